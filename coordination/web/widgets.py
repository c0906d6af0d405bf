"""The portal's date and date-time inputs: every form's date field uses these.

A browser's ``<input type="date">`` reads and sends ``2026-12-08`` and its
``<input type="datetime-local">`` ``2026-12-08T09:30``, whatever the page's language. Django
renders a date in the active locale's first input format unless the widget names one, and
the portal's language (en-gb) puts ``%d/%m/%Y`` first (Django 5 always localizes, so the
``DATE_INPUT_FORMATS`` setting does not apply): ``08/12/2026`` is a value the date input
cannot show, so the field came up empty and saving the form unchanged erased the date.
These widgets always render ISO 8601, which Django's date fields always accept back.
"""

from __future__ import annotations

from typing import Any

from django import forms

DATE_FORMAT = "%Y-%m-%d"
DATE_TIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATE_FORMAT)


class DateTimeInput(forms.DateTimeInput):
    """A date and time to the minute, in the portal's zone (``datetime-local`` has none)."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATE_TIME_FORMAT)
