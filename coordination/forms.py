"""Forms of the core's own pages."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from .models import Notification
from .notifications import KINDS
from .validators import (
    NAME_LENGTH,
    ControlCharacterValidator,
    DayRangeValidator,
    line_validators,
)


def line_field(*, max_length: int = NAME_LENGTH, **kwargs: Any) -> forms.CharField:
    """One line of free text (a name, a title), checked as the models check it
    (coordination.validators)."""
    return forms.CharField(max_length=max_length, validators=line_validators(), **kwargs)


def prose_field(*, max_length: int, rows: int = 3, **kwargs: Any) -> forms.CharField:
    """Free text of several lines in a text box, checked as the models check it; the box
    itself stops at ``max_length``."""
    kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows}))
    return forms.CharField(
        max_length=max_length,
        validators=[ControlCharacterValidator(line_breaks=True)],
        **kwargs,
    )


class DayField(forms.DateField):
    """A date of a plan or an agreement, within the portal's range of dates."""

    default_validators = [DayRangeValidator()]


class MomentField(forms.DateTimeField):
    """A date and time: a plain one is in the portal's zone; one sent with an offset is
    turned into UTC (the same moment), so no offset the database cannot store (PostgreSQL
    refuses beyond ±15:59) gets there."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError(
                "That date and time is out of range.", code="invalid"
            ) from None


class PlanMomentField(MomentField):
    """A moment of a plan (an assignment's end, an operational period), within the
    portal's range of dates."""

    default_validators = [DayRangeValidator()]


class PreferencesForm(forms.Form):
    """One choice per kind of notification; critical kinds are shown but fixed."""

    def __init__(self, *args: Any, current: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, kind in sorted(KINDS.items(), key=lambda item: item[1].label):
            field = forms.ChoiceField(
                label=kind.label,
                choices=Notification.Delivery.choices,
                initial=current.get(name),
                help_text="Critical: always e-mailed at once." if kind.critical else "",
                disabled=kind.critical,
            )
            self.fields[name] = field

    def choices(self) -> dict[str, str]:
        return {
            name: value for name, value in self.cleaned_data.items() if not KINDS[name].critical
        }
