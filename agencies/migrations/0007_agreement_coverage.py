"""Agreement coverage: one row per ordered pair of parties of each agreement in force, so
the highest marking an agency sees in another's task force is one index lookup (see
``agencies.models.AgreementCoverage``). Triggers on agreements and their parties keep the
rows, whoever writes those tables; they lock the agreement's row first, so two changes to
one agreement keep its rows one after the other (and changes to different agreements never
wait for each other). Filled here from the agreements already in force. On SQLite the
triggers below are installed after every ``migrate`` instead
(``coordination.db.sqlite_triggers``: SQLite rebuilds tables to alter them, which triggers
do not survive). Frozen, as a migration must be."""

import django.db.models.deletion
from django.db import migrations, models

COVERAGE = "agencies_agreementcoverage"
FILL = """
INSERT INTO agencies_agreementcoverage
    (agreement_id, agency_id, partner_id, task_force_id, max_marking, valid_from, valid_until)
SELECT a.id, mine.agency_id, theirs.agency_id, a.task_force_id, a.max_marking,
       a.valid_from, a.valid_until
FROM agencies_sharingagreement a
JOIN agencies_sharingagreement_parties mine ON mine.sharingagreement_id = a.id
JOIN agencies_sharingagreement_parties theirs ON theirs.sharingagreement_id = a.id
WHERE a.status = 'active' AND mine.agency_id <> theirs.agency_id
"""

POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION concord_sync_coverage(agreement bigint) RETURNS void AS $$
    BEGIN
        PERFORM 1 FROM agencies_sharingagreement WHERE id = agreement FOR NO KEY UPDATE;
        DELETE FROM {COVERAGE} WHERE agreement_id = agreement;
        {FILL} AND a.id = agreement;
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE FUNCTION concord_coverage_from_agreement() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM agencies_agreementcoverage WHERE agreement_id = OLD.id;
            RETURN OLD;
        END IF;
        PERFORM concord_sync_coverage(NEW.id);
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE FUNCTION concord_coverage_from_parties() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            PERFORM concord_sync_coverage(OLD.sharingagreement_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            PERFORM concord_sync_coverage(NEW.sharingagreement_id);
        END IF;
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE OR REPLACE FUNCTION concord_coverage_rebuild() RETURNS trigger AS $$
    BEGIN
        DELETE FROM {COVERAGE};
        {FILL};
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql
    """,
    # TRUNCATE fires no row trigger: start again from what is left
    "CREATE TRIGGER concord_coverage_agreement_trn AFTER TRUNCATE ON agencies_sharingagreement "
    "FOR EACH STATEMENT EXECUTE FUNCTION concord_coverage_rebuild()",
    "CREATE TRIGGER concord_coverage_parties_trn AFTER TRUNCATE "
    "ON agencies_sharingagreement_parties FOR EACH STATEMENT "
    "EXECUTE FUNCTION concord_coverage_rebuild()",
    "CREATE TRIGGER concord_coverage_agreement_del BEFORE DELETE ON agencies_sharingagreement "
    "FOR EACH ROW EXECUTE FUNCTION concord_coverage_from_agreement()",
    "CREATE TRIGGER concord_coverage_agreement_set AFTER INSERT OR UPDATE "
    "ON agencies_sharingagreement FOR EACH ROW EXECUTE FUNCTION concord_coverage_from_agreement()",
    "CREATE TRIGGER concord_coverage_parties AFTER INSERT OR UPDATE OR DELETE "
    "ON agencies_sharingagreement_parties FOR EACH ROW "
    "EXECUTE FUNCTION concord_coverage_from_parties()",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS concord_coverage_parties_trn ON agencies_sharingagreement_parties",
    "DROP TRIGGER IF EXISTS concord_coverage_agreement_trn ON agencies_sharingagreement",
    "DROP FUNCTION IF EXISTS concord_coverage_rebuild()",
    "DROP TRIGGER IF EXISTS concord_coverage_parties ON agencies_sharingagreement_parties",
    "DROP TRIGGER IF EXISTS concord_coverage_agreement_set ON agencies_sharingagreement",
    "DROP TRIGGER IF EXISTS concord_coverage_agreement_del ON agencies_sharingagreement",
    "DROP FUNCTION IF EXISTS concord_coverage_from_parties()",
    "DROP FUNCTION IF EXISTS concord_coverage_from_agreement()",
    "DROP FUNCTION IF EXISTS concord_sync_coverage(bigint)",
]


def _sqlite_sync(ref: str) -> str:
    return f"DELETE FROM {COVERAGE} WHERE agreement_id = {ref}; {FILL} AND a.id = {ref};"


SQLITE = [
    "CREATE TRIGGER concord_coverage_agreement_del BEFORE DELETE ON agencies_sharingagreement "
    f"BEGIN DELETE FROM {COVERAGE} WHERE agreement_id = OLD.id; END",
    "CREATE TRIGGER concord_coverage_agreement_ins AFTER INSERT ON agencies_sharingagreement "
    f"BEGIN {_sqlite_sync('NEW.id')} END",
    "CREATE TRIGGER concord_coverage_agreement_upd AFTER UPDATE ON agencies_sharingagreement "
    f"BEGIN {_sqlite_sync('NEW.id')} END",
    "CREATE TRIGGER concord_coverage_parties_ins AFTER INSERT ON agencies_sharingagreement_parties "
    f"BEGIN {_sqlite_sync('NEW.sharingagreement_id')} END",
    "CREATE TRIGGER concord_coverage_parties_del AFTER DELETE ON agencies_sharingagreement_parties "
    f"BEGIN {_sqlite_sync('OLD.sharingagreement_id')} END",
    "CREATE TRIGGER concord_coverage_parties_upd AFTER UPDATE ON agencies_sharingagreement_parties "
    f"BEGIN {_sqlite_sync('OLD.sharingagreement_id')} {_sqlite_sync('NEW.sharingagreement_id')} END",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "concord_coverage_agreement_del",
        "concord_coverage_agreement_ins",
        "concord_coverage_agreement_upd",
        "concord_coverage_parties_ins",
        "concord_coverage_parties_del",
        "concord_coverage_parties_upd",
    )
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRESQL}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)
    schema_editor.execute(FILL, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRESQL_DROP}.get(vendor, []):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('agencies', '0006_membership_active_liaison_index'),
        ('taskforces', '0007_content_epoch'),
    ]

    operations = [
        migrations.CreateModel(
            name='AgreementCoverage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('max_marking', models.PositiveSmallIntegerField(choices=[(0, 'TLP:CLEAR'), (1, 'TLP:GREEN'), (2, 'TLP:AMBER'), (3, 'TLP:AMBER+STRICT'), (4, 'TLP:RED')])),
                ('valid_from', models.DateField()),
                ('valid_until', models.DateField(blank=True, null=True)),
                ('agency', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='agencies.agency')),
                ('agreement', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='coverage', to='agencies.sharingagreement')),
                ('partner', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='agencies.agency')),
                ('task_force', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='taskforces.taskforce')),
            ],
            options={
                'indexes': [models.Index(fields=['agency', 'partner'], name='coverage_by_pair')],
                'constraints': [models.UniqueConstraint(fields=('agreement', 'agency', 'partner'), name='one_coverage_per_pair')],
            },
        ),
        migrations.RunPython(create, drop),
    ]
