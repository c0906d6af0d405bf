"""The ``content`` epoch: database triggers move it whenever anything an API list of
task-force content can show changes — task forces, their participations, roles,
assignments, periods, objectives, tasks, updates and acknowledgements, agencies and their
agreements, and people's names (``coordination.api.views`` keeps list answers under it).
Frozen here, as a migration must be."""

from django.db import migrations

from coordination.epochs import Watch, migration_operation

WATCHES = (
    Watch("agencies_agency"),
    Watch("agencies_membership"),
    Watch("agencies_sharingagreement"),
    Watch("agencies_sharingagreement_parties"),
    Watch("taskforces_taskforce"),
    Watch("taskforces_participation"),
    Watch("taskforces_roletemplate"),
    Watch("taskforces_role"),
    Watch("taskforces_role_eligible_agencies"),
    Watch("taskforces_roleassignment"),
    Watch("taskforces_taskforcegroupobjectpermission"),
    Watch("taskforces_taskforceuserobjectpermission"),
    Watch("taskforces_operationalperiod"),
    Watch("taskforces_objective"),
    Watch("taskforces_objective_contributing_agencies"),
    Watch("taskforces_task"),
    Watch("taskforces_update"),
    Watch("taskforces_update_ack_roles"),
    Watch("taskforces_update_ack_agencies"),
    Watch("taskforces_acknowledgement"),
    # what lists show of a person (not sign-in times)
    Watch(
        "coordination_user",
        columns=("first_name", "last_name", "email", "job_title", "phone", "is_active"),
    ),
)


class Migration(migrations.Migration):
    dependencies = [("taskforces", "0006_access_epoch")]

    operations = [migration_operation("content", WATCHES)]
