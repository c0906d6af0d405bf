"""The project's select (``templates/django/forms/widgets/select.html``) writes its options
itself instead of rendering two templates per option: its HTML is Django's own, option for
option, and a page with hundreds of options renders no template per option."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.urls import reverse

CHOICES = [
    ("", "Choose one"),
    ("a&b", "Fish & chips"),
    ("Groups", [(1, "One"), (2, 'Two "quoted"')]),
    (3, "Three"),
]


class Sample(forms.Form):
    one = forms.ChoiceField(choices=CHOICES, required=False)
    many = forms.MultipleChoiceField(choices=CHOICES, required=False)
    disabled = forms.ChoiceField(
        choices=CHOICES, widget=forms.Select(attrs={"disabled": True, "data-x": "y"})
    )


@pytest.mark.parametrize("data", [None, {"one": "2", "many": ["a&b", "3"], "disabled": "3"}])
def test_the_projects_select_writes_djangos_html(data):
    assert not isinstance(get_default_renderer(), DjangoTemplates)  # the project's renderer
    ours = Sample(data)
    django = Sample(data, renderer=DjangoTemplates())
    for name in ("one", "many", "disabled"):
        assert str(ours[name]) == str(django[name]), name
    assert "selected" in str(ours["one"]) or data is None
    assert "<optgroup" in str(ours["one"])


@pytest.mark.django_db
def test_a_page_of_hundreds_of_options_renders_no_template_per_option(client, world):
    client.force_login(world.partner_staff)
    response = client.get(reverse("settings"))
    assert response.status_code == 200
    assert response.content.decode().count("<option") > 300  # the time zones
    rendered = [t.name for t in response.templates]
    assert "django/forms/widgets/select_option.html" not in rendered
    assert rendered.count("django/forms/widgets/attrs.html") < 10
