"""Reads about agencies and people's ties to them."""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, Expression, OuterRef, QuerySet, Subquery
from django.utils import timezone

from coordination import db
from coordination.models import User
from coordination.permissions import request_memory

from .models import Agency, Membership, SharingAgreement

# what a membership with its agency is read from: a request forgets the one it remembered
# when it writes to one of these (not at every write: a service that inserts an update
# and then its audit event reads the author's agency once)
MEMBERSHIP_TABLES = frozenset({"agencies_membership", "agencies_agency"})


# The person's active membership and its agency, in one row: the columns of both, as
# ``db.joined`` reads them (at most one is active: ``membership_one_active_per_person``;
# the key orders them all the same). Written once: building it took 44 µs a request.
_MEMBERSHIP_SQL = (
    f"SELECT {db.columns(Membership, 'm')}, {db.columns(Agency, 'a')} "  # noqa: S608 - names from the models; the person is a parameter
    f"FROM {Membership._meta.db_table} m JOIN {Agency._meta.db_table} a ON a.id = m.agency_id "
    "WHERE m.user_id = %s AND m.is_active ORDER BY m.id LIMIT 1"
)


def membership_of(user: Any) -> Membership | None:
    """The person's active membership (with its agency), or None; read once per request
    (until the request writes to its tables, ``coordination.permissions.request_memory``).

    Nearly every signed-in request reads it (the sign-in rules ask whether the person's
    agency requires a passkey), so it is one prepared statement (``coordination.db``)
    made into the two model instances as the ORM makes them: the ORM took about 0.95 ms to
    build, compile and run the query with its ``select_related``, the statement 0.35 ms
    (benchmarks/HISTORY.md)."""
    if user is None or not getattr(user, "pk", None):
        return None
    note = request_memory.remembered("agencies.membership", MEMBERSHIP_TABLES)
    if note is not None and user.pk in note:
        return note[user.pk]
    rows = db.fetch_all(_MEMBERSHIP_SQL, (user.pk,))
    found = next(iter(db.joined(rows, Membership, "agency", Agency)), None)
    if note is not None:
        note[user.pk] = found
    return found


class AgencyOf(Expression):
    """The id of the person's agency (their active membership's), as a scalar subquery
    written out in SQL: no extra query, and, unlike a ``Subquery`` of a queryset, nothing
    for the ORM to build and compile into each query that uses it, which costs more than
    a short list itself. NULL (no row matches) for someone with no active membership."""

    output_field = BigIntegerField()

    def __init__(self, user: Any) -> None:
        super().__init__()
        self.user_id = int(user.pk)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        # identifiers from the model, quoted; the person's id and True as parameters
        name = connection.ops.quote_name
        table = Membership._meta.db_table
        return (
            f"(SELECT {name('agency_id')} FROM {name(table)} "  # noqa: S608
            f"WHERE {name('user_id')} = %s AND {name('is_active')} = %s LIMIT 1)",
            (self.user_id, True),
        )


def agreements_in_force(*, on: Any = None) -> QuerySet[SharingAgreement]:
    """Agreements in force on a day (today by default)."""
    day = on or timezone.localdate()
    return SharingAgreement.objects.filter(
        status=SharingAgreement.Status.ACTIVE, valid_from__lte=day
    ).exclude(valid_until__lt=day)


def liaisons_of(agency: Agency) -> QuerySet[Membership]:
    return Membership.objects.filter(
        agency=agency, is_active=True, role=Membership.Role.LIAISON, user__is_active=True
    ).select_related("user")


def applications_to_review(user: Any) -> QuerySet[Agency]:
    """Applications waiting for a portal administrator, oldest first (none for anyone else)."""
    return (
        Agency.objects.restrict(user, "review")
        .filter(status__in=(Agency.Status.APPLIED, Agency.Status.UNDER_REVIEW))
        .order_by("applied_at", "pk")
    )


def people_of(user: Any, agency: Agency) -> QuerySet[Membership]:
    """The agency's memberships that ``user`` may manage: active first, then by name."""
    return (
        Membership.objects.restrict(user, "change")
        .filter(agency=agency)
        .select_related("user")
        .order_by("-is_active", "user__last_name", "user__first_name", "user__email", "pk")
    )


def visible_liaisons_of(user: Any, agency: Agency) -> QuerySet[Membership]:
    """The agency's current liaison officers, as far as ``user`` may see them."""
    return (
        Membership.objects.restrict(user, "view")
        .filter(agency=agency, is_active=True, role=Membership.Role.LIAISON, user__is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__email", "pk")
    )


def visible_agreements_of(user: Any, agency: Agency) -> QuerySet[SharingAgreement]:
    """The agreements ``agency`` is a party to that ``user`` may see, with their parties."""
    return (
        SharingAgreement.objects.restrict(user, "view")
        .filter(parties=agency)
        .prefetch_related("parties")
        .order_by("-valid_from", "title", "pk")
    )


def provisioned_people(agency: Agency) -> QuerySet[User]:
    """The people an agency's identity provider reaches through SCIM: those whose current
    membership is of that agency, or, for someone with no active membership, whose latest
    one was — unless the provider deleted them from it (``Membership.deprovisioned_at``).
    A person who moved on to another agency is that agency's, never this one's; everyone
    else is out of reach (their ids answer "not found")."""
    return _by_latest_membership().filter(provisioning_agency=agency.pk, deprovisioned__isnull=True)


def deleted_by_provider(agency: Agency, email: str) -> User | None:
    """The person with this address whom the agency's identity provider deleted (and who
    belongs to no agency since): the account it gives back when it creates them again."""
    return (
        _by_latest_membership()
        .filter(
            email__iexact=email.strip(),
            provisioning_agency=agency.pk,
            deprovisioned__isnull=False,
        )
        .first()
    )


def _by_latest_membership() -> Any:  # a QuerySet[User] with two annotations
    """People with the agency of their current membership or, without one, of their latest
    (``provisioning_agency``), and when its provider deleted them from it (``deprovisioned``)."""
    latest = Membership.objects.filter(user_id=OuterRef("pk")).order_by(
        "-is_active", "-joined_at", "-pk"
    )
    return User.objects.annotate(
        provisioning_agency=Subquery(latest.values("agency_id")[:1]),
        deprovisioned=Subquery(latest.values("deprovisioned_at")[:1]),
    )
