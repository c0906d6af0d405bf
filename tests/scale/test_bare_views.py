"""The benchmark's bare views (``benchmarks.urls``), the yardsticks of ``benchmark_load``:
one read, one insert, through the same middleware as every other request."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from benchmarks.models import BareRow

from ..factories import AgencyFactory

pytestmark = pytest.mark.urls("benchmarks.urls")


def test_the_bare_read_answers_one_small_json(db, django_assert_num_queries):
    agency = AgencyFactory()
    with django_assert_num_queries(1):
        response = Client().get("/bench/bare/")
    assert response.status_code == 200
    assert response.json() == {"agency": [agency.pk, agency.name]}


def test_the_bare_insert_writes_one_row_without_a_csrf_token(db, django_assert_num_queries):
    client = Client(enforce_csrf_checks=True)
    with django_assert_num_queries(1):
        response = client.post("/bench/bare-insert/")
    assert response.status_code == 201
    assert response.json() == {"id": BareRow.objects.get().pk}


def test_the_bare_insert_takes_only_posts(db):
    assert Client().get("/bench/bare-insert/").status_code == 405
    assert not BareRow.objects.exists()


def test_the_bare_views_pass_through_every_middleware(db):
    response = Client().get("/bench/bare/")
    # what the middleware adds to every answer: the security headers and the CSP
    assert "Content-Security-Policy" in response.headers
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "benchmarks" in settings.INSTALLED_APPS
