"""Audit events are appended without a lock and sealed into the chain afterwards
(``coordination.audit.seal``): each gets its place (``seq``) when sealed. Events recorded
before this migration were chained in id order; they keep that order as their places. The append-only trigger now
also lets the sealer fill in the three seal columns, once, of an unsealed event, and
refuses an event inserted already sealed. Frozen here, as a migration must be."""

from django.db import migrations, models

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION concord_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL OR NEW.prev_hash IS NOT NULL THEN
            RAISE EXCEPTION 'audit events are written unsealed; the sealer chains them'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE'
       AND current_setting('concord.audit_purge', true) = 'on'
       AND OLD.created_at < now() - interval '365 days' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE'
       AND OLD.seq IS NULL AND OLD.hash IS NULL AND OLD.prev_hash IS NULL
       AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND NEW.id = OLD.id
       AND NEW.created_at IS NOT DISTINCT FROM OLD.created_at
       AND NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
       AND NEW.actor_label IS NOT DISTINCT FROM OLD.actor_label
       AND NEW.actor_agency_label IS NOT DISTINCT FROM OLD.actor_agency_label
       AND NEW.action IS NOT DISTINCT FROM OLD.action
       AND NEW.object_type IS NOT DISTINCT FROM OLD.object_type
       AND NEW.object_id IS NOT DISTINCT FROM OLD.object_id
       AND NEW.object_repr IS NOT DISTINCT FROM OLD.object_repr
       AND NEW.before IS NOT DISTINCT FROM OLD.before
       AND NEW.after IS NOT DISTINCT FROM OLD.after
       AND NEW.outcome IS NOT DISTINCT FROM OLD.outcome
       AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address
       AND NEW.user_agent IS NOT DISTINCT FROM OLD.user_agent THEN
        RETURN NEW;  -- the sealer, once
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused on event %', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER concord_audit_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON coordination_auditevent
    FOR EACH ROW EXECUTE FUNCTION concord_audit_append_only();
"""

OLD_TRIGGER_SQL = """
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


def _execute(schema_editor, sql):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql, params=None)


def drop_trigger(apps, schema_editor):
    _execute(schema_editor, DROP_TRIGGER_SQL)


def create_trigger(apps, schema_editor):
    _execute(schema_editor, TRIGGER_SQL)


def restore_old_trigger(apps, schema_editor):
    _execute(schema_editor, DROP_TRIGGER_SQL + OLD_TRIGGER_SQL)


def number_existing_events(apps, schema_editor):
    """The chain so far was in id order: that order becomes the events' places."""
    table = "coordination_auditevent"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET seq = ranked.place FROM "  # noqa: S608
            f"(SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS place FROM {table}) AS ranked "
            f"WHERE {table}.id = ranked.id"
        )


class Migration(migrations.Migration):
    dependencies = [("coordination", "0007_auth_epoch")]

    operations = [
        migrations.RunPython(drop_trigger, restore_old_trigger),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(
                blank=True, null=True, unique=True, verbose_name="place in the chain"
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.RunPython(number_existing_events, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)),
                fields=["id"],
                name="auditevent_unsealed",
            ),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
