"""The ``auth`` epoch: database triggers move it whenever anything an API token's
authentication is decided from, or the person it signs in, changes — a token's owner,
secret, expiry or revocation, and any column of a person's account but the time of their
last sign-in (``coordination.accounts.tokens`` keeps authenticated tokens under it). Frozen here,
as a migration must be.

Superseded: Concord no longer keeps answers per process (issue 14), so nothing reads the
``auth`` epoch. This migration is kept, empty, so the history stays whole; databases
that applied it have its triggers removed by ``coordination/0009_no_epochs``."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("coordination", "0006_epoch")]

    operations: list[migrations.operations.base.Operation] = []
