"""A task force's content version: the database moves it on, in the changing transaction,
whenever anything the API shows of the task force changes — its own row, and the rows of
every table inside it (participations, roles and their eligible agencies, assignments,
periods, objectives and their contributing agencies, tasks, updates, the roles and
agencies they ask to acknowledge, acknowledgements), and the names shown on them
(agencies, people, role templates). The API's ETags of task-force content are made of
these versions and the asker's access (``taskforces.api.views``).

On PostgreSQL the triggers run once per statement and lock the task forces concerned in
id order before moving them on, so statements touching several task forces take their
locks in one order; services lock the task force first anyway (docs/decisions). On SQLite
they run per row. On SQLite the
triggers below are installed after every ``migrate`` instead
(``coordination.db.sqlite_triggers``: SQLite rebuilds tables to alter them, which triggers
do not survive). Frozen, as a migration must be."""

from django.db import migrations, models

# (table, SQL giving the task force id of a row called R — NEW/OLD, or a transition table's)
INSIDE = [
    ("taskforces_participation", "R.task_force_id"),
    ("taskforces_role", "R.task_force_id"),
    ("taskforces_operationalperiod", "R.task_force_id"),
    ("taskforces_objective", "R.task_force_id"),
    ("taskforces_task", "R.task_force_id"),
    ("taskforces_update", "R.task_force_id"),
    ("taskforces_roleassignment", "(SELECT task_force_id FROM taskforces_role WHERE id = R.role_id)"),
    (
        "taskforces_role_eligible_agencies",
        "(SELECT task_force_id FROM taskforces_role WHERE id = R.role_id)",
    ),
    (
        "taskforces_objective_contributing_agencies",
        "(SELECT task_force_id FROM taskforces_objective WHERE id = R.objective_id)",
    ),
    (
        "taskforces_acknowledgement",
        "(SELECT task_force_id FROM taskforces_update WHERE id = R.update_id)",
    ),
    (
        "taskforces_update_ack_roles",
        "(SELECT task_force_id FROM taskforces_update WHERE id = R.update_id)",
    ),
    (
        "taskforces_update_ack_agencies",
        "(SELECT task_force_id FROM taskforces_update WHERE id = R.update_id)",
    ),
]
# (table, columns shown by name, SQL giving the task forces of a row R)
NAMES = [
    (
        "agencies_agency",
        ("name", "acronym"),
        "SELECT task_force_id FROM taskforces_participation WHERE agency_id = R.id",
    ),
    (
        "coordination_user",
        ("first_name", "last_name", "email"),
        "SELECT r.task_force_id FROM taskforces_roleassignment a "
        "JOIN taskforces_role r ON r.id = a.role_id WHERE a.person_id = R.id",
    ),
    (
        "taskforces_roletemplate",
        ("slug",),
        "SELECT task_force_id FROM taskforces_role WHERE template_id = R.id",
    ),
]

BUMP = """
CREATE OR REPLACE FUNCTION concord_bump_task_forces(ids bigint[]) RETURNS void AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM taskforces_taskforce WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE taskforces_taskforce SET content_version = content_version + 1 WHERE id = ANY(ids);
END;
$$ LANGUAGE plpgsql
"""
OWN_ROW = """
CREATE OR REPLACE FUNCTION concord_bump_own_version() RETURNS trigger AS $$
BEGIN
    IF NEW.content_version = OLD.content_version THEN
        NEW.content_version := OLD.content_version + 1;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def _postgresql() -> list[str]:
    statements = [
        BUMP,
        OWN_ROW,
        "CREATE TRIGGER concord_version_own BEFORE UPDATE ON taskforces_taskforce "
        "FOR EACH ROW EXECUTE FUNCTION concord_bump_own_version()",
    ]
    for table, task_force in INSIDE:
        for event, tables, rows in (
            ("INSERT", "NEW TABLE AS changed", "SELECT * FROM changed"),
            ("DELETE", "OLD TABLE AS changed", "SELECT * FROM changed"),
            (
                "UPDATE",
                "OLD TABLE AS gone NEW TABLE AS changed",
                "SELECT * FROM changed UNION ALL SELECT * FROM gone",
            ),
        ):
            function = f"concord_version_{event.lower()}_{table}"[:63]
            statements.append(
                f"""
                CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
                BEGIN
                    PERFORM concord_bump_task_forces(ARRAY(
                        SELECT DISTINCT {task_force} FROM ({rows}) AS R ORDER BY 1));
                    RETURN NULL;
                END;
                $$ LANGUAGE plpgsql
                """
            )
            statements.append(
                f"CREATE TRIGGER {function} AFTER {event} ON {table} "
                f"REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    for table, columns, task_forces in NAMES:
        function = f"concord_version_names_{table}"[:63]
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)
        statements.append(
            f"""
            CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
            BEGIN
                PERFORM concord_bump_task_forces(ARRAY(
                    SELECT DISTINCT x FROM ({task_forces.replace("R.", "NEW.")}) AS t(x)
                    ORDER BY 1));
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        statements.append(
            f"CREATE TRIGGER {function} AFTER UPDATE OF {', '.join(columns)} ON {table} "
            f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {function}()"
        )
    return statements


def _postgresql_drop() -> list[str]:
    statements = ["DROP TRIGGER IF EXISTS concord_version_own ON taskforces_taskforce"]
    for table, _ in INSIDE:
        for event in ("insert", "delete", "update"):
            function = f"concord_version_{event}_{table}"[:63]
            statements += [
                f"DROP TRIGGER IF EXISTS {function} ON {table}",
                f"DROP FUNCTION IF EXISTS {function}()",
            ]
    for table, _, _ in NAMES:
        function = f"concord_version_names_{table}"[:63]
        statements += [
            f"DROP TRIGGER IF EXISTS {function} ON {table}",
            f"DROP FUNCTION IF EXISTS {function}()",
        ]
    statements += [
        "DROP FUNCTION IF EXISTS concord_bump_own_version()",
        "DROP FUNCTION IF EXISTS concord_bump_task_forces(bigint[])",
    ]
    return statements


def _sqlite_bump(task_forces: str) -> str:
    return (
        "UPDATE taskforces_taskforce SET content_version = content_version + 1 "
        f"WHERE id IN ({task_forces})"
    )


def _sqlite() -> list[str]:
    statements = [
        "CREATE TRIGGER concord_version_own AFTER UPDATE ON taskforces_taskforce "
        "WHEN NEW.content_version = OLD.content_version BEGIN "
        "UPDATE taskforces_taskforce SET content_version = OLD.content_version + 1 "
        "WHERE id = NEW.id; END"
    ]
    for table, task_force in INSIDE:
        for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",)), ("UPDATE", ("OLD", "NEW"))):
            name = f"concord_version_{event.lower()}_{table}"[:63]
            ids = " UNION ".join(
                f"SELECT {task_force.replace('R.', row + '.')}" for row in rows
            )
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {_sqlite_bump(ids)}; END"
            )
    for table, columns, task_forces in NAMES:
        name = f"concord_version_names_{table}"[:63]
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        statements.append(
            f"CREATE TRIGGER {name} AFTER UPDATE OF {', '.join(columns)} ON {table} "
            f"WHEN {changed} BEGIN {_sqlite_bump(task_forces.replace('R.', 'NEW.'))}; END"
        )
    return statements


def _sqlite_drop() -> list[str]:
    names = ["concord_version_own"]
    names += [
        f"concord_version_{event}_{table}"[:63]
        for table, _ in INSIDE
        for event in ("insert", "delete", "update")
    ]
    names += [f"concord_version_names_{table}"[:63] for table, _, _ in NAMES]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": _postgresql}.get(vendor, list)()
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": _postgresql_drop}.get(vendor, list)()
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('taskforces', '0008_task_marking_and_leaner_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='taskforce',
            name='content_version',
            field=models.BigIntegerField(default=0, editable=False),
        ),
            migrations.RunPython(create, drop),
    ]
