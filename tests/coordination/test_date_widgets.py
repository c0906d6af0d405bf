"""Every date and date-time field of every form the portal renders shows its value in the
portal's one (en-GB) order, day/month/year (``08/12/2026``, ``08/12/2026 09:30``), in a text
input with a hint rather than the browser's date input (which shows mm/dd/yyyy in a US
browser, issue 17), and takes that value back unchanged; ISO 8601 is still accepted.

An earlier round (issue 15, item 15) found a value rendered in a format the input could not
show: the field came up empty and saving the form unchanged erased the date. The widgets
name their format (coordination.web.widgets), so what is shown is what is read back.

The forms are found, not listed: every module of the project's packages is imported and
every Django form and django-filter filterset class defined in them is checked.
"""

from __future__ import annotations

import copy
import datetime
import importlib
import pkgutil
import re

import django_filters
import pytest
from django import forms

PACKAGES = ("coordination", "agencies", "taskforces")
# Settings modules other than the one in use need their own environment; migrations hold
# no forms.
SKIPPED = re.compile(r"\.(settings|migrations)(\.|$)")
# The JSON API's filtersets are query parameters, never a form on a page (the API renders
# JSON only): their dates and times are RFC 3339 with a zone, which no browser input sends.
NOT_RENDERED = re.compile(r"\.api(\.|$)")

DAY = datetime.date(2026, 12, 8)
MOMENT = datetime.datetime(2026, 12, 8, 9, 30, tzinfo=datetime.UTC)


def _project_modules() -> list[str]:
    names = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if not SKIPPED.search(info.name):
                importlib.import_module(info.name)
                names.append(info.name)
    return names


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _subclasses(sub)
    return found


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in PACKAGES and not NOT_RENDERED.search(cls.__module__)


def date_fields() -> list[tuple[str, forms.Field]]:
    """(where, field) for every date or date-time field of every form class and every
    filterset of the project."""
    _project_modules()
    found: list[tuple[str, forms.Field]] = []
    for form in sorted(_subclasses(forms.BaseForm), key=lambda c: c.__qualname__):
        if not _ours(form):
            continue
        for name, field in getattr(form, "base_fields", {}).items():
            if isinstance(field, (forms.DateField, forms.DateTimeField)):
                found.append((f"{form.__module__}.{form.__qualname__}.{name}", field))
    for filterset in sorted(_subclasses(django_filters.FilterSet), key=lambda c: c.__qualname__):
        if not _ours(filterset):
            continue
        for name, filter_ in filterset.base_filters.items():
            # a copy: a filter builds its form field once and keeps it, and the class's own
            # filters must stay unbuilt (instances set their choices before building)
            field = copy.deepcopy(filter_).field
            if isinstance(field, (forms.DateField, forms.DateTimeField)):
                found.append((f"{filterset.__module__}.{filterset.__qualname__}.{name}", field))
    return found


FIELDS = date_fields()


def test_the_search_finds_the_forms_that_carry_dates() -> None:
    where = {name for name, _field in FIELDS}
    for expected in (
        "taskforces.forms.ObjectiveForm.target_date",
        "taskforces.forms.TaskForm.due_date",
        "taskforces.forms.PeriodForm.starts_at",
        "taskforces.forms.AssignmentUntilForm.until",
        "agencies.forms.AgreementForm.valid_from",
        "coordination.audit.views.AuditEventFilter.since",
        "taskforces.filtersets.TaskListFilter.due_before",
    ):
        assert expected in where, f"{expected} not found among {sorted(where)}"


def _rendered_value(field: forms.Field, value: object) -> str:
    html = field.widget.render("when", field.prepare_value(value))
    match = re.search(r'value="([^"]*)"', html)
    assert match, f"no value in {html}"
    return match.group(1)


@pytest.mark.parametrize(
    "field", [field for _name, field in FIELDS], ids=[name for name, _field in FIELDS]
)
def test_a_date_field_shows_its_value_as_the_browser_reads_it(field: forms.Field) -> None:
    if isinstance(field, forms.DateTimeField):
        value, shown, iso = MOMENT, "08/12/2026 09:30", "2026-12-08T09:30"
        back = MOMENT
    else:
        value, shown, iso = DAY, "08/12/2026", "2026-12-08"
        back = DAY
    assert field.widget.input_type == "text"
    assert getattr(field.widget, "hint", ""), "the field says what format it takes"
    rendered = _rendered_value(field, value)
    assert rendered == shown
    # What the browser sends back unchanged is the same value; so is ISO 8601.
    assert field.clean(rendered) == back
    assert field.clean(iso) == back
    # the US order is not read as a date in an en-GB portal
    if not isinstance(field, forms.DateTimeField):
        with pytest.raises(forms.ValidationError):
            field.clean("12/31/2026")
