"""Who may see and manage agencies, memberships and sharing agreements; and who reads the
audit trail (agency administrators read what their agency's people did)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from coordination.audit.policy import AuditTrailPolicy
from coordination.models import AuditEvent
from coordination.permissions import Explanation, Policy, Step, register

from .models import Agency, AgreementAcceptance, Membership, SharingAgreement
from .selectors import AgencyOf, membership_of


def _portal_admin_step(user: Any) -> Step:
    return Step("You are a portal administrator.", bool(user.is_portal_admin))


def _admin_agency_ids(user: Any) -> QuerySet[Membership, Any]:
    return Membership.objects.filter(
        user_id=user.pk, is_active=True, role=Membership.Role.ADMIN
    ).values("agency_id")


@register(Agency)
class AgencyPolicy(Policy[Agency]):
    """Everyone signed in sees the directory of active agencies and their own agency;
    portal administrators see and review every agency; agency administrators edit
    their own agency's details and manage its people."""

    actions = ("view", "change", "review", "manage_members")

    def restrict(self, queryset: QuerySet[Agency], user: Any, action: str) -> QuerySet[Agency]:
        if action == "review":
            return queryset if user.is_portal_admin else queryset.none()
        if action == "view":
            if user.is_portal_admin:
                return queryset
            return queryset.filter(Q(status=Agency.Status.ACTIVE) | Q(pk=AgencyOf(user)))
        # change, manage_members
        if user.is_portal_admin:
            return queryset
        return queryset.filter(pk__in=_admin_agency_ids(user)).exclude(
            status__in=(Agency.Status.OFFBOARDED, Agency.Status.REJECTED)
        )

    def explain(self, user: Any, action: str, obj: Agency) -> Explanation:
        membership = membership_of(user)
        own = membership is not None and membership.agency_id == obj.pk
        if user.is_portal_admin:
            return Explanation(True, action, [_portal_admin_step(user)])
        if action == "review":
            return Explanation(
                False, action, [Step("Only portal administrators review agencies.", False)]
            )
        if action == "view":
            if obj.status == Agency.Status.ACTIVE:
                return Explanation(
                    True, action, [Step(f"{obj} is active and listed in the directory.", True)]
                )
            if own:
                return Explanation(True, action, [Step(f"You are a member of {obj}.", True)])
            return Explanation(
                False,
                action,
                [Step(f"{obj} is not active, and you are not one of its members.", False)],
            )
        is_admin = own and membership is not None and membership.role == Membership.Role.ADMIN
        closed = obj.status in (Agency.Status.OFFBOARDED, Agency.Status.REJECTED)
        steps = [
            Step(
                f"You are an agency administrator of {obj}."
                if is_admin
                else f"Only {obj}'s agency administrators (or portal administrators) may do this.",
                is_admin,
            )
        ]
        if is_admin and closed:
            steps.append(Step(f"{obj} is {obj.get_status_display().lower()}.", False))
        return Explanation(is_admin and not closed, action, steps)


@register(Membership)
class MembershipPolicy(Policy[Membership]):
    """People see their own agency's people and every active agency's liaison officers;
    agency administrators manage their own agency's memberships."""

    actions = ("view", "change")

    def restrict(
        self, queryset: QuerySet[Membership], user: Any, action: str
    ) -> QuerySet[Membership]:
        if user.is_portal_admin:
            return queryset
        if action == "view":
            return queryset.filter(
                Q(agency_id=AgencyOf(user))
                | Q(
                    role=Membership.Role.LIAISON,
                    is_active=True,
                    agency__status=Agency.Status.ACTIVE,
                )
            )
        return queryset.filter(agency_id__in=_admin_agency_ids(user)).exclude(
            agency__status__in=(Agency.Status.OFFBOARDED, Agency.Status.REJECTED)
        )

    def explain(self, user: Any, action: str, obj: Membership) -> Explanation:
        if user.is_portal_admin:
            return Explanation(True, action, [_portal_admin_step(user)])
        mine = membership_of(user)
        same = mine is not None and mine.agency_id == obj.agency_id
        if action == "view":
            if same:
                return Explanation(True, action, [Step(f"You are a member of {obj.agency}.", True)])
            public = (
                obj.role == Membership.Role.LIAISON
                and obj.is_active
                and obj.agency.status == Agency.Status.ACTIVE
            )
            return Explanation(
                public,
                action,
                [
                    Step(
                        "Liaison officers of active agencies are listed for every agency."
                        if public
                        else f"Only {obj.agency}'s own people see this membership.",
                        public,
                    )
                ],
            )
        is_admin = same and mine is not None and mine.role == Membership.Role.ADMIN
        steps = [
            Step(
                f"You are an agency administrator of {obj.agency}."
                if is_admin
                else f"Only {obj.agency}'s agency administrators manage its people.",
                is_admin,
            )
        ]
        closed = obj.agency.status in (Agency.Status.OFFBOARDED, Agency.Status.REJECTED)
        if is_admin and closed:
            steps.append(Step(f"{obj.agency} is {obj.agency.get_status_display().lower()}.", False))
        return Explanation(is_admin and not closed, action, steps)


@register(SharingAgreement)
class SharingAgreementPolicy(Policy[SharingAgreement]):
    """An agreement is seen by its parties' people (and portal administrators); accepted,
    each for its own party, and terminated by its parties' administrators and liaison
    officers — never by anyone else, portal administrators included: it is what the parties
    agreed."""

    actions = ("view", "accept", "terminate")

    def restrict(
        self, queryset: QuerySet[SharingAgreement], user: Any, action: str
    ) -> QuerySet[SharingAgreement]:
        parties = SharingAgreement.parties.through.objects
        if action == "view":
            if user.is_portal_admin:
                return queryset
            own = parties.filter(agency_id=AgencyOf(user))
            return queryset.filter(pk__in=own.values("sharingagreement_id"))
        acting = _acting_agency_ids(user)
        party_of = parties.filter(agency_id__in=acting).values("sharingagreement_id")
        if action == "accept":
            accepted = AgreementAcceptance.objects.filter(agency_id__in=acting).values(
                "agreement_id"
            )
            return queryset.filter(
                pk__in=party_of, status=SharingAgreement.Status.PROPOSED
            ).exclude(pk__in=accepted)
        return queryset.filter(pk__in=party_of).exclude(status=SharingAgreement.Status.TERMINATED)

    def explain(self, user: Any, action: str, obj: SharingAgreement) -> Explanation:
        mine = membership_of(user)
        party = mine is not None and obj.parties.filter(pk=mine.agency_id).exists()
        if action == "view":
            if user.is_portal_admin:
                return Explanation(True, action, [_portal_admin_step(user)])
            text = (
                f"Your agency, {mine.agency}, is a party to this agreement."
                if party and mine
                else "Only the parties' people see this agreement."
            )
            return Explanation(party, action, [Step(text, party)])
        acts = (
            party
            and mine is not None
            and mine.role in Membership.AGREEMENT_ROLES
            and mine.agency.status == Agency.Status.ACTIVE
        )
        steps = [
            Step(
                f"You act for {mine.agency}, a party to this agreement."
                if acts and mine
                else "Only the parties' agency administrators and liaison officers act on "
                "this agreement.",
                bool(acts),
            )
        ]
        if not acts:
            return Explanation(False, action, steps)
        if obj.status == SharingAgreement.Status.TERMINATED:
            steps.append(Step("This agreement has been terminated.", False))
            return Explanation(False, action, steps)
        if action == "accept":
            if obj.status != SharingAgreement.Status.PROPOSED:
                steps.append(Step("This agreement is already in force.", False))
                return Explanation(False, action, steps)
            if mine is not None and obj.acceptances.filter(agency_id=mine.agency_id).exists():
                steps.append(Step(f"{mine.agency} has already accepted it.", False))
                return Explanation(False, action, steps)
        return Explanation(True, action, steps)


def _acting_agency_ids(user: Any) -> QuerySet[Membership, Any]:
    """The active agency a person acts for in agreements: as its administrator or liaison."""
    return Membership.objects.filter(
        user_id=user.pk,
        is_active=True,
        role__in=Membership.AGREEMENT_ROLES,
        agency__status=Agency.Status.ACTIVE,
    ).values("agency_id")


# --- the audit trail ----------------------------------------------------------------------

# An agency that has left Concord (or was never admitted) no longer reads its people's trail.
CLOSED_AGENCY_STATUSES = (Agency.Status.OFFBOARDED, Agency.Status.REJECTED)


def administered_agency_ids(user: Any) -> QuerySet[Membership, Any]:
    """The agencies the person administers now (as a subquery)."""
    return (
        Membership.objects.filter(user_id=user.pk, is_active=True, role=Membership.Role.ADMIN)
        .exclude(agency__status__in=CLOSED_AGENCY_STATUSES)
        .values("agency_id")
    )


@register(AuditEvent)
class AuditEventPolicy(AuditTrailPolicy):
    """Who reads the audit trail, as a permission-core policy (so ``restrict`` and
    ``explain`` answer for audit events as for everything else).

    * Portal administrators read every event.
    * An agency administrator reads the events done by people while they belonged to the
      administrator's agency (the actor's membership covered the moment of the event), so
      someone who moved agencies is seen by each agency for their own time only.
    * Nobody else reads the audit trail.
    """

    def may_read(self, user: Any) -> bool:
        return bool(user.is_portal_admin) or administered_agency_ids(user).exists()

    def restrict(
        self, queryset: QuerySet[AuditEvent], user: Any, action: str
    ) -> QuerySet[AuditEvent]:
        if user.is_portal_admin:
            return queryset
        member_then = Membership.objects.filter(
            user_id=OuterRef("actor_id"),
            agency_id__in=administered_agency_ids(user),
            joined_at__lte=OuterRef("created_at"),
        ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=OuterRef("created_at")))
        return queryset.filter(Exists(member_then))

    def explain(self, user: Any, action: str, obj: AuditEvent) -> Explanation:
        if user.is_portal_admin:
            return Explanation(True, action, [Step("You are a portal administrator.", True)])
        if not administered_agency_ids(user).exists():
            return Explanation(
                False,
                action,
                [
                    Step(
                        "Only portal administrators and agency administrators read the audit trail.",
                        False,
                    )
                ],
            )
        seen = self.restrict(AuditEvent.objects.filter(pk=obj.pk), user, action).exists()
        text = (
            "The person who did this belonged to your agency at the time."
            if seen
            else "The person who did this did not belong to your agency at the time."
        )
        return Explanation(
            seen, action, [Step("You are an agency administrator.", True), Step(text, seen)]
        )
