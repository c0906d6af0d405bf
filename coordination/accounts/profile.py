"""A person's own settings: for now, the time zone they read times in."""

from __future__ import annotations

from django.db import transaction

from coordination import audit
from coordination.models import User


@transaction.atomic
def set_time_zone(*, user: User, time_zone: str) -> User:
    """Set the zone ``user`` reads times in; "" means "my agency's". Validated against the
    server's zone database (``validate_time_zone``) by ``full_clean``."""
    user = User.objects.select_for_update(no_key=True, of=("self",)).get(pk=user.pk)
    before = user.time_zone
    user.time_zone = time_zone.strip()
    user.full_clean(validate_unique=False, validate_constraints=False)
    if user.time_zone != before:
        user.save(update_fields=["time_zone"])
        audit.record(
            actor=user,
            action="account.time_zone_changed",
            obj=user,
            before={"time_zone": before},
            after={"time_zone": user.time_zone},
        )
    return user
