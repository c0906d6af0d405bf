"""``manage.py seed_demo`` committed, as ``make run`` runs it: the e-mails its events cause.

Apart from ``test_seed_demo.py``, whose demo is loaded once for that module inside a
transaction held open until the module ends: run after it on the same connection (as a
single worker runs the files in order), this test found that demo already loaded.
"""

from __future__ import annotations

from contextlib import redirect_stdout
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from taskforces.management.commands.seed_demo import DEMO_PASSWORD


@pytest.mark.django_db(transaction=True)
def test_the_demos_e_mails_are_not_printed() -> None:
    """`make run` prints the demo logins; the e-mails the demo's own events cause (a
    couple of hundred, which the console mail server of `make run` would print before the
    logins) are kept out of the console, and the output says so. Committed, as `make run`
    does, so that the e-mails are really sent."""
    printed = StringIO()
    console = "django.core.mail.backends.console.EmailBackend"
    out = StringIO()
    with override_settings(CONCORD_EMAIL_TRANSPORT=console), redirect_stdout(printed):
        call_command("seed_demo", stdout=out)
    output = out.getvalue()
    assert "notification e-mails the demo data caused were not sent" in output
    assert "Subject:" not in printed.getvalue()
    assert DEMO_PASSWORD in output  # the logins
