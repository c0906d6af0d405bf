"""Form fields every app's forms use (one line, prose, days and moments), checked as the
models check them."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms

from coordination.validators import (
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


def model_choice(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """The form's model-choice field ``name``, typed as one (``Form.fields`` holds plain
    ``Field``s): for setting its queryset or labels per request."""
    return cast(forms.ModelChoiceField, form.fields[name])
