"""The ``content`` epoch: database triggers move it whenever anything an API list of
task-force content can show changes — task forces, their participations, roles,
assignments, periods, objectives, tasks, updates and acknowledgements, agencies and their
agreements, and people's names (``coordination.api.views`` keeps list answers under it).
Frozen here, as a migration must be.

Superseded: Concord no longer keeps answers per process (issue 14), so nothing reads the
``content`` epoch. This migration is kept, empty, so the history stays whole; databases
that applied it have its triggers removed by ``coordination/0009_no_epochs``."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("taskforces", "0006_access_epoch")]

    operations: list[migrations.operations.base.Operation] = []
