"""The notification preferences form."""

from __future__ import annotations

from typing import Any

from django import forms

from coordination.models import Notification
from coordination.notifications import KINDS, Kind


class PreferencesForm(forms.Form):
    """One choice per kind of notification the person can receive, grouped under headings
    (``kinds_for``); critical kinds are shown but fixed."""

    def __init__(
        self,
        *args: Any,
        current: dict[str, str],
        kinds: dict[str, list[tuple[str, Kind]]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.groups: list[tuple[str, list[str]]] = []
        for group, members in kinds.items():
            for name, kind in members:
                self.fields[name] = forms.ChoiceField(
                    label=kind.label,
                    choices=Notification.Delivery.choices,
                    initial=current.get(name),
                    help_text="Critical: always e-mailed at once." if kind.critical else "",
                    disabled=kind.critical,
                )
            self.groups.append((group, [name for name, _ in members]))

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        """(heading, its fields) in the order of the groups, for the template."""
        return [(group, [self[name] for name in names]) for group, names in self.groups]

    def choices(self) -> dict[str, str]:
        return {
            name: value for name, value in self.cleaned_data.items() if not KINDS[name].critical
        }
