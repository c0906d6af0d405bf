"""Uploads and request size. Concord accepts no files: no model has a file field and no view
reads request.FILES. The settings say so explicitly too (DATA_UPLOAD_MAX_NUMBER_FILES = 0),
so a multipart request carrying a file is refused before any view runs, as is a body over
1 MiB or with more than 1,000 fields — each with 400, nothing saved, never a server error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from rest_framework.test import APIClient

from .conftest import changes, snapshot

pytestmark = pytest.mark.usefixtures("module_world")

ROOT = Path(settings.BASE_DIR)
OUR_APPS = ("coordination", "agencies", "taskforces")
APPLICATION = {
    "name": "Harbour Authority",
    "level": "local",
    "sector": "transport",
    "contact_email": "contact@harbour.example.gov",
}


def test_no_model_stores_files_and_no_code_reads_uploads() -> None:
    file_fields = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS
        for field in model._meta.get_fields()
        if isinstance(field, models.FileField)
    ]
    assert file_fields == []
    readers = [
        f"{path.relative_to(ROOT)}:{n}"
        for app in OUR_APPS
        for path in (ROOT / app).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if not line.lstrip().startswith("#")
        and re.search(r"\.FILES\b|FileField|ImageField|FileUploadParser|MultiPartParser", line)
    ]
    assert readers == []
    # JSON only: REST framework's JSON parser, bounded (coordination.api.parsers)
    assert settings.REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] == [
        "coordination.api.parsers.JSONParser"
    ]
    from rest_framework.parsers import JSONParser as RestFrameworkJSONParser

    from coordination.api.parsers import JSONParser

    assert JSONParser.__mro__[1] is RestFrameworkJSONParser


def test_the_limits_are_set_explicitly() -> None:
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == 1000
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 0


def test_a_form_with_a_file_is_refused(db) -> None:
    before = snapshot()
    response = Client().post(
        "/apply/",
        {**APPLICATION, "attachment": SimpleUploadedFile("x.html", b"<script>alert(1)</script>")},
    )
    assert response.status_code == 400
    assert not changes(before, snapshot())


def test_the_same_form_without_the_file_is_accepted(db) -> None:
    """The control for the test above: only the file made the difference."""
    before = snapshot()
    assert Client().post("/apply/", APPLICATION).status_code == 302
    assert changes(before, snapshot())


def test_a_body_over_one_mebibyte_is_refused(db) -> None:
    before = snapshot()
    big = {**APPLICATION, "jurisdiction": "x" * (1024 * 1024 + 1)}
    assert Client().post("/apply/", big).status_code == 400
    assert not changes(before, snapshot())


def test_more_than_a_thousand_fields_are_refused(db) -> None:
    before = snapshot()
    many = {**APPLICATION, **{f"f{n}": "x" for n in range(1001)}}
    assert Client().post("/apply/", many).status_code == 400
    assert not changes(before, snapshot())


def test_the_api_refuses_a_huge_body_and_files_with_clear_errors(world) -> None:
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    before = snapshot()
    huge = client.post(
        "/api/v1/updates/",
        {"task_force": world.tf.pk, "title": "x", "body": "x" * (1024 * 1024 + 1), "marking": 1},
        format="json",
    )
    assert huge.status_code == 400, huge.content[:300]
    assert huge.json()["error"]["status"] == 400
    upload = client.post(
        "/api/v1/updates/",
        {"task_force": world.tf.pk, "file": SimpleUploadedFile("x.txt", b"x")},
        format="multipart",
    )
    assert upload.status_code in (400, 415), upload.status_code
    assert not changes(before, snapshot())
