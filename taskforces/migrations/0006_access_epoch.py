"""The ``access`` epoch: database triggers move it whenever anything a person's access
inside task forces is computed from changes (``taskforces.access`` caches each person's
access under it). The list is frozen here, as a migration must be; a later change to what
access depends on adds a migration of its own."""

from django.db import migrations

from coordination.epochs import Watch, migration_operation

WATCHES = (
    # the person's account being active
    Watch("coordination_user", columns=("is_active",), inserts=False),
    # their membership of an agency (any change), the agency's status
    Watch("agencies_membership"),
    Watch("agencies_agency", columns=("status",), inserts=False),
    # the agency taking part in the task force
    Watch("taskforces_participation", columns=("task_force_id", "agency_id", "status")),
    # role assignments: who, which role, for which agency, when
    Watch(
        "taskforces_roleassignment",
        columns=("role_id", "person_id", "agency_id", "starts_at", "ends_at", "ended_at"),
    ),
    # roles, their groups and the capabilities granted to those groups
    Watch("taskforces_role", columns=("task_force_id", "group_id"), inserts=False),
    Watch("taskforces_taskforcegroupobjectpermission"),
    # the task force's lead agency (the marking ceiling) and status (closed: read-only)
    Watch("taskforces_taskforce", columns=("lead_agency_id", "status"), inserts=False),
    # sharing agreements and their parties (the marking ceiling)
    Watch("agencies_sharingagreement"),
    Watch("agencies_sharingagreement_parties"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("coordination", "0006_epoch"),
        ("agencies", "0005_scale_indexes"),
        ("taskforces", "0005_scale_indexes"),
    ]

    operations = [migration_operation("access", WATCHES)]
