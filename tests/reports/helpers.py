"""Small helpers the report tests share."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.urls import reverse


def report(client: Any, rw: Any, form: str, **params: Any) -> Any:
    """GET one report of the world's task force (period 1 unless given)."""
    params.setdefault("period", rw.period.number)
    return client.get(reverse("taskforces:report", args=[rw.tf.pk, form]), params)


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def banners(page: str) -> list[str]:
    """The marking labels printed in the report page's banners (top and bottom)."""
    labels = []
    for chunk in page.split('class="marking-banner')[1:]:
        label = chunk.split('title="Traffic Light Protocol marking">')[1].split("</span>")[0]
        labels.append(label)
    return labels
