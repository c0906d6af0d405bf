"""The audit trail becomes a hash chain and append-only.

Events recorded before this migration are chained in the order they were written; then,
on PostgreSQL, a trigger refuses UPDATE and DELETE on the table. The one exception is the
retention purge, which sets ``concord.audit_purge`` for its own transaction and may only
remove events older than 365 days (the shortest retention the settings allow)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from coordination.audit import chain

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION concord_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('concord.audit_purge', true) = 'on'
       AND OLD.created_at < now() - interval '365 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused on event %', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER concord_audit_append_only
    BEFORE UPDATE OR DELETE ON coordination_auditevent
    FOR EACH ROW EXECUTE FUNCTION concord_audit_append_only();
"""

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS concord_audit_append_only ON coordination_auditevent;
DROP FUNCTION IF EXISTS concord_audit_append_only();
"""


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("coordination", "AuditEvent")
    previous = chain.GENESIS
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        event.prev_hash = previous
        event.hash = chain.hash_of(event)
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=event.prev_hash, hash=event.hash)
        previous = event.hash


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("coordination", "0004_notification_outbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(db_index=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(max_length=64, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor", "created_at"], name="coordinatio_actor_i_fb1587_idx"),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
