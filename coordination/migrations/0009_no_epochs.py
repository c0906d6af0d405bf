"""Epochs are gone: nothing is kept per process any more (access, API tokens and API list
answers are read from the database on each request), so the counters and the triggers
that moved them on every write (each taking a lock for the whole database) are removed.
On PostgreSQL dropping each epoch's function with CASCADE drops its triggers on every
table; on SQLite the triggers are found by name."""

from django.db import migrations

EPOCHS = ("access", "content", "auth")


def drop_epochs(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for epoch in EPOCHS:
                cursor.execute(f"DROP FUNCTION IF EXISTS concord_bump_{epoch}_epoch() CASCADE")
            cursor.execute("DROP SEQUENCE IF EXISTS concord_epoch_seq")
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND ("
                + " OR ".join(["name LIKE %s"] * len(EPOCHS))
                + ")",
                [f"concord_{epoch}_epoch_%" for epoch in EPOCHS],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("coordination", "0008_audit_sealed_chain"),
        # every migration that may have created epoch triggers
        ("taskforces", "0007_content_epoch"),
    ]

    operations = [
        migrations.RunPython(drop_epochs, migrations.RunPython.noop),
        migrations.DeleteModel(name="Epoch"),
    ]
