"""The ``auth`` epoch: database triggers move it whenever anything an API token's
authentication is decided from, or the person it signs in, changes — a token's owner,
secret, expiry or revocation, and any column of a person's account but the time of their
last sign-in (``coordination.tokens`` keeps authenticated tokens under it). Frozen here,
as a migration must be."""

from django.db import migrations

from coordination.epochs import Watch, migration_operation

WATCHES = (
    Watch(
        "coordination_apitoken",
        columns=("owner_id", "key_hash", "expires_at", "revoked_at"),
        inserts=False,
    ),
    Watch(
        "coordination_user",
        columns=(
            "password",
            "is_superuser",
            "first_name",
            "last_name",
            "is_staff",
            "is_active",
            "date_joined",
            "email",
            "job_title",
            "phone",
            "is_portal_admin",
        ),
        inserts=False,
    ),
)


class Migration(migrations.Migration):
    dependencies = [("coordination", "0006_epoch")]

    operations = [migration_operation("auth", WATCHES)]
