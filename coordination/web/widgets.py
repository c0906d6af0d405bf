"""The portal's date and date-time inputs: every form's date field uses these.

They are text inputs in the portal's one (en-GB) order, day/month/year, with a hint saying so,
rather than the browser's ``<input type="date">``, which shows its own locale's order
(mm/dd/yyyy in a US-English browser) in an en-GB portal. A value is rendered as
``06/12/2026`` (``14:30`` after it for a moment); Django's date fields read that back
(``%d/%m/%Y`` is en-GB's first input format) and always accept ISO 8601 too
(``2026-12-06``, ``2026-12-06T14:30``), so scripts and older links keep working. A moment
typed without an offset is in the reader's time zone (``coordination.web.timezones``).
"""

from __future__ import annotations

from typing import Any

from django import forms

DATE_FORMAT = "%d/%m/%Y"
DATE_TIME_FORMAT = "%d/%m/%Y %H:%M"


class DateInput(forms.DateInput):
    """A date, typed day/month/year."""

    input_type = "text"
    # shown under the label by templates/includes/field.html
    hint = "Day/month/year, for example 27/03/2026."

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-10"}
        super().__init__(attrs={**defaults, **(attrs or {})}, format=DATE_FORMAT)


class DateTimeInput(forms.DateTimeInput):
    """A date and time to the minute, in the reader's time zone."""

    input_type = "text"
    hint = "Day/month/year and 24-hour time, for example 27/03/2026 14:30, in your time zone."

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {"autocomplete": "off", "spellcheck": "false", "class": "govuk-input--width-20"}
        super().__init__(attrs={**defaults, **(attrs or {})}, format=DATE_TIME_FORMAT)
