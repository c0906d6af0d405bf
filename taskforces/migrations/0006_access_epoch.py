"""The ``access`` epoch: database triggers move it whenever anything a person's access
inside task forces is computed from changes (``taskforces.access`` caches each person's
access under it). The list is frozen here, as a migration must be; a later change to what
access depends on adds a migration of its own.

Superseded: Concord no longer keeps answers per process (issue 14), so nothing reads the
``access`` epoch. This migration is kept, empty, so the history stays whole; databases
that applied it have its triggers removed by ``coordination/0009_no_epochs``."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("coordination", "0006_epoch"),
        ("agencies", "0005_scale_indexes"),
        ("taskforces", "0005_scale_indexes"),
    ]

    operations: list[migrations.operations.base.Operation] = []
