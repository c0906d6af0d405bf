"""What free text and dates the portal accepts, in one place for models, forms and the API.

Every free-text model field is made by ``line_field`` (one line: names, titles, short
labels) or ``prose_field`` (several lines: reasons, descriptions, bodies). Their
validators run in the models' ``full_clean`` (services, admin forms) and the same
validators are attached to the page forms' fields (``coordination.web.forms``) and the API's
(``coordination.api.fields``), so every way in refuses the same input with the same
message. ``tests/coordination/test_free_text.py`` walks every model, form and serializer
and fails for a free-text field or date without them.

The rules (docs/input.md says why):

* No control characters: a line takes none at all; prose takes line breaks (LF, and CR
  as browsers send CR LF from a text box) and tabs. Unpaired surrogates are refused too:
  they are not characters and no database stores them.
* No bidirectional embeddings, overrides or isolates (U+202A–U+202E, U+2066–U+2069) in
  a line: a name or title is shown inline amid other text, in lists, e-mail subjects and
  exports, where an override reverses what follows it ("Trojan Source"). The marks
  U+200E, U+200F and U+061C stay allowed: they change no other character's order and are
  how a name mixing Arabic or Hebrew with Latin letters is written correctly. Prose keeps
  them all: it is shown as its own block, where the end of the paragraph ends them.
* Bounded length: names and titles 200 characters (shorter where the field always was),
  reasons 2,000, bodies, descriptions, mandates and responsibilities 10,000.
* Dates of plans and agreements (target dates, due dates, agreement periods, assignment
  ends, operational periods) lie from 1 January 2000 to ten years from today.
"""

from __future__ import annotations

import datetime
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone
from django.utils.deconstruct import deconstructible

NAME_LENGTH = 200
REASON_LENGTH = 2000
PROSE_LENGTH = 10_000
NOTES_LENGTH = 5000  # an operational period's briefing notes, printed on the ICS 202

EARLIEST_DAY = datetime.date(2000, 1, 1)
YEARS_AHEAD = 10

LINE_BREAKS = frozenset("\n\r\t")
DIRECTION_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
)


def _code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


@deconstructible
class ControlCharacterValidator:
    """Refuses control characters (Unicode category Cc) and unpaired surrogates (Cs);
    with ``line_breaks``, newlines, carriage returns and tabs are allowed."""

    def __init__(self, *, line_breaks: bool) -> None:
        self.line_breaks = line_breaks

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        allowed = LINE_BREAKS if self.line_breaks else frozenset()
        for char in value:
            if char in allowed:
                continue
            category = unicodedata.category(char)
            if category == "Cs":
                raise ValidationError(
                    "Remove the unpaired surrogate %(char)s: it is not a character.",
                    code="control_character",
                    params={"char": _code_point(char)},
                )
            if category == "Cc":
                if char in LINE_BREAKS:
                    message = "Keep this to one line: remove the line break or tab (%(char)s)."
                else:
                    message = "Remove the control character %(char)s."
                raise ValidationError(
                    message, code="control_character", params={"char": _code_point(char)}
                )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlCharacterValidator) and (
            other.line_breaks == self.line_breaks
        )

    def __hash__(self) -> int:
        return hash((type(self), self.line_breaks))


@deconstructible
class DirectionControlValidator:
    """Refuses bidirectional embeddings, overrides and isolates (U+202A–U+202E,
    U+2066–U+2069), which reorder the text shown after them."""

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        for char in value:
            if char in DIRECTION_CONTROLS:
                raise ValidationError(
                    "Remove the text-direction control %(char)s: it would reverse the "
                    "text shown after it.",
                    code="direction_control",
                    params={"char": _code_point(char)},
                )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DirectionControlValidator)

    def __hash__(self) -> int:
        return hash(type(self))


def latest_day() -> datetime.date:
    today = timezone.localdate()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


@deconstructible
class DayRangeValidator:
    """Refuses a date (or a moment's date) before 1 January 2000 or more than ten years
    from today: a typo such as 0001-01-01 or 9999-12-31 never becomes a plan."""

    def __call__(self, value: Any) -> None:
        if value is None:
            return
        day = timezone.localdate(value) if isinstance(value, datetime.datetime) else value
        if not isinstance(day, datetime.date):
            return
        latest = latest_day()
        if not EARLIEST_DAY <= day <= latest:
            raise ValidationError(
                "Enter a date from %(earliest)s to %(latest)s.",
                code="date_out_of_range",
                params={"earliest": EARLIEST_DAY.isoformat(), "latest": latest.isoformat()},
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DayRangeValidator)

    def __hash__(self) -> int:
        return hash(type(self))


def line_validators() -> list[Any]:
    """For a single line of text (names, titles); the length comes from max_length."""
    return [ControlCharacterValidator(line_breaks=False), DirectionControlValidator()]


def prose_validators(max_length: int) -> list[Any]:
    """For text of several lines. A TextField's max_length reaches forms but is not
    checked by the model nor the database, hence the explicit length validator."""
    return [ControlCharacterValidator(line_breaks=True), MaxLengthValidator(max_length)]


def day_validators() -> list[Any]:
    return [DayRangeValidator()]


def line_field(
    verbose_name: str | None = None, *, max_length: int = NAME_LENGTH, **kwargs: Any
) -> models.CharField:
    """A model field for one line of free text."""
    validators = [*line_validators(), *kwargs.pop("validators", [])]
    return models.CharField(verbose_name, max_length=max_length, validators=validators, **kwargs)


def prose_field(
    verbose_name: str | None = None, *, max_length: int, **kwargs: Any
) -> models.TextField:
    """A model field for free text of several lines, at most ``max_length`` characters."""
    validators = [*prose_validators(max_length), *kwargs.pop("validators", [])]
    return models.TextField(verbose_name, max_length=max_length, validators=validators, **kwargs)


def validate_fields(obj: models.Model, fields: dict[str, str]) -> None:
    """Run the model's own checks on just these fields, for services that change a few
    fields with ``save(update_fields=...)`` rather than a whole ``full_clean``. ``fields``
    maps each model field to the name the caller gave it (``{"status_reason":
    "reason"}``), so a refusal names what the person typed in."""
    try:
        obj.clean_fields(
            exclude=[f.name for f in obj._meta.concrete_fields if f.name not in fields]
        )
    except ValidationError as error:
        raise ValidationError(
            {fields.get(name, name): messages for name, messages in error.error_dict.items()}
        ) from None


def validate_time_zone(value: str) -> None:
    """An IANA time zone name this server knows (Europe/London, America/New_York, UTC)."""
    from coordination.timefmt import is_valid_zone

    if value and not is_valid_zone(value):
        raise ValidationError(
            "“%(value)s” is not a time zone Concord knows: choose one from the list, "
            "e.g. Europe/London.",
            code="invalid_time_zone",
            params={"value": value},
        )
