"""The notification preferences form."""

from __future__ import annotations

from typing import Any

from django import forms

from coordination.models import Notification
from coordination.notifications import KINDS


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
