"""A task carries its objective's marking in a column of its own, which the database keeps
equal to the objective's (triggers on both tables, whoever writes them), so tasks are
filtered by their own (task_force, marking) index instead of joining objectives; and the
single-column task force indexes of objectives, tasks and updates go, since their
(task_force, marking) indexes serve the same lookups (two candidate indexes for one
condition made PostgreSQL spend more time planning each list than running it). On SQLite the
triggers below are installed after every ``migrate`` instead
(``coordination.db.sqlite_triggers``: SQLite rebuilds tables to alter them, which triggers
do not survive). Frozen, as a migration must be."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION concord_task_marking() RETURNS trigger AS $$
    BEGIN
        NEW.marking := (SELECT marking FROM taskforces_objective WHERE id = NEW.objective_id);
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER concord_task_marking BEFORE INSERT OR UPDATE OF objective_id, marking "
    "ON taskforces_task FOR EACH ROW EXECUTE FUNCTION concord_task_marking()",
    """
    CREATE OR REPLACE FUNCTION concord_objective_marking() RETURNS trigger AS $$
    BEGIN
        UPDATE taskforces_task SET marking = NEW.marking
            WHERE objective_id = NEW.id AND marking <> NEW.marking;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER concord_objective_marking AFTER UPDATE OF marking ON taskforces_objective "
    "FOR EACH ROW WHEN (OLD.marking IS DISTINCT FROM NEW.marking) "
    "EXECUTE FUNCTION concord_objective_marking()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS concord_objective_marking ON taskforces_objective",
    "DROP TRIGGER IF EXISTS concord_task_marking ON taskforces_task",
    "DROP FUNCTION IF EXISTS concord_objective_marking()",
    "DROP FUNCTION IF EXISTS concord_task_marking()",
]
_COPY = (
    "UPDATE taskforces_task SET marking = "
    "(SELECT marking FROM taskforces_objective WHERE id = NEW.objective_id) WHERE id = NEW.id"
)
SQLITE = [
    f"CREATE TRIGGER concord_task_marking_ins AFTER INSERT ON taskforces_task BEGIN {_COPY}; END",
    "CREATE TRIGGER concord_task_marking_upd AFTER UPDATE OF objective_id, marking "
    "ON taskforces_task WHEN NEW.marking IS NOT "
    "(SELECT marking FROM taskforces_objective WHERE id = NEW.objective_id) "
    f"BEGIN {_COPY}; END",
    "CREATE TRIGGER concord_objective_marking AFTER UPDATE OF marking ON taskforces_objective "
    "WHEN OLD.marking IS NOT NEW.marking BEGIN "
    "UPDATE taskforces_task SET marking = NEW.marking WHERE objective_id = NEW.id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS concord_task_marking_ins",
    "DROP TRIGGER IF EXISTS concord_task_marking_upd",
    "DROP TRIGGER IF EXISTS concord_objective_marking",
]
BACKFILL = (
    "UPDATE taskforces_task SET marking = "
    "(SELECT o.marking FROM taskforces_objective o WHERE o.id = taskforces_task.objective_id)"
)


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(BACKFILL, params=None)
    for statement in {"postgresql": POSTGRESQL}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRESQL_DROP}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('taskforces', '0007_content_epoch'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='task',
            name='marking',
            field=models.PositiveSmallIntegerField(choices=[(0, 'TLP:CLEAR'), (1, 'TLP:GREEN'), (2, 'TLP:AMBER'), (3, 'TLP:AMBER+STRICT'), (4, 'TLP:RED')], default=2, editable=False),
        ),
        migrations.AlterField(
            model_name='objective',
            name='task_force',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='objectives', to='taskforces.taskforce'),
        ),
        migrations.AlterField(
            model_name='task',
            name='task_force',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='taskforces.taskforce'),
        ),
        migrations.AlterField(
            model_name='update',
            name='task_force',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='updates', to='taskforces.taskforce'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['task_force', 'marking'], name='task_by_task_force_marking'),
        ),
            migrations.RunPython(create, drop),
    ]
