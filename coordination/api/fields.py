"""Request fields that take JSON's types at their word.

DRF's fields are forgiving: a CharField takes the number 5, an IntegerField the string
"5", a BooleanField the string "yes", a DateTimeField a time without a zone. The schema
promises strings, integers, booleans and RFC 3339 times, so a request that sends
anything else is told so (400) rather than silently reinterpreted; the schema-driven
fuzzing holds the API to that.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from rest_framework import serializers

from coordination.validators import (
    ControlCharacterValidator,
    DayRangeValidator,
    line_validators,
)

FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# RFC 3339: a date, "T", a time, and a zone ("Z" or an offset).
DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
)


class Text(serializers.CharField):
    """One line of free text (a name, a title), checked as the models check it
    (coordination.validators)."""

    default_validators = line_validators()

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Prose(Text):
    """Free text of several lines (a reason, a description, a body)."""

    default_validators = [ControlCharacterValidator(line_breaks=True)]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("style", {"base_template": "textarea.html"})
        super().__init__(**kwargs)


class Email(serializers.EmailField):
    default_validators = line_validators()

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class Url(serializers.URLField):
    default_validators = line_validators()

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class WholeNumber(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class Flag(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class Choice(serializers.ChoiceField):
    """One of the choices, given as the JSON type the choices have (a marking is the
    number 2, not the string "2")."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not any(type(data) is type(key) for key in self.choices):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class Day(serializers.DateField):
    """A date of a plan or an agreement, within the portal's range of dates."""

    default_validators = [DayRangeValidator()]

    def to_internal_value(self, data: Any) -> datetime.date:
        if not isinstance(data, str) or not FULL_DATE.match(data):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(data)


class Moment(serializers.DateTimeField):
    """A date and time with its zone (RFC 3339), e.g. 2026-05-01T09:00:00Z, of a plan
    (within the portal's range of dates)."""

    default_validators = [DayRangeValidator()]

    def to_internal_value(self, data: Any) -> datetime.datetime:
        if not isinstance(data, str) or not DATE_TIME.match(data):
            self.fail("invalid", format="YYYY-MM-DDThh:mm:ss±hh:mm (or Z)")
        return super().to_internal_value(data)


class Items(serializers.ListField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictManyRelatedField(serializers.ManyRelatedField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)
