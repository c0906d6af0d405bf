"""Forms of the core's own pages."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from .models import Notification
from .notifications import KINDS


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
