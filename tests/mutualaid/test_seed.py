"""The demo (``seed_demo``) loads mutual aid too, once (``seed_mutual_aid``)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from mutualaid.models import AgencyCapability, Commitment, Offer, ResourceRequest

C = Commitment.Status


@pytest.mark.django_db
def test_the_demo_seeds_mutual_aid_once():
    call_command("seed_demo", stdout=StringIO())
    requests = ResourceRequest.objects.order_by("number")
    assert [r.status for r in requests] == ["open", "open", "fulfilled"]
    assert Commitment.objects.filter(status=C.ON_SCENE).count() == 1
    assert Commitment.objects.filter(status=C.DEMOBILISED).count() == 1
    assert Offer.objects.filter(status=Offer.Status.PENDING).count() == 1
    assert AgencyCapability.objects.count() >= 8
    out = StringIO()
    call_command("seed_mutual_aid", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert ResourceRequest.objects.count() == 3
