"""``manage.py seed_demo``: realistic demo data, made only through the services.

Eight active agencies (and two waiting for review), their people, sharing agreements,
and two task forces with roles, objectives, tasks, updates and acknowledgements. The
audit trail is real: every record comes from the service a person would have used.

Idempotent: when the demo data is already there it changes nothing and only prints the
demo logins again.
"""

from __future__ import annotations

import datetime
import textwrap
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from io import StringIO
from typing import Any

from django.apps import apps
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from agencies import services as agency_services
from agencies.identity import services as identity_services
from agencies.models import Agency, Membership
from coordination.models import User
from coordination.permissions import PermissionDenied
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Objective, Role, RoleAssignment, Task, TaskForce, Update

# One memorable password for every demo account: long enough for the validators and not
# on the common-password list. Demo data only; never used outside it.
DEMO_PASSWORD = "concord-demo-2026"
PORTAL_ADMIN_EMAIL = "admin@concord.example"
# The demo data is recognised by this agency together with the portal administrator.
MARKER_AGENCY = "National Flood Agency"

# The demo agency that signs its people in through its own identity provider: the local
# test provider ``make idp`` starts (manage.py demo_idp; docs/identity.md). Demo values only.
DEMO_IDP_DOMAIN = "nfa"
DEMO_IDP_PORT = 8001
DEMO_IDP_ISSUER = f"http://127.0.0.1:{DEMO_IDP_PORT}/o"
DEMO_IDP_CLIENT_ID = "concord-demo"
DEMO_IDP_SECRET = "concord-demo-idp-secret"

FLOOD = "River Severn flood response"
LANTERN = "Operation Lantern — counter-trafficking"
SHORT_NAMES = {FLOOD: "Severn flood", LANTERN: "Op Lantern"}
WIDTH = 118  # of the logins table

L = Agency.Level
SECTOR = Agency.Sector
STAFF, LIAISON, ADMIN = Membership.Role.STAFF, Membership.Role.LIAISON, Membership.Role.ADMIN


@dataclass(frozen=True)
class PersonSpec:
    """A demo login: ``local`` is the part of the e-mail address before the agency's domain."""

    local: str
    first_name: str
    last_name: str
    job_title: str
    role: str = STAFF
    hint: str = ""


@dataclass(frozen=True)
class AgencySpec:
    """A demo agency; ``domain`` names its people's e-mail addresses (``liaison@nfa.example``)."""

    domain: str
    name: str
    acronym: str
    level: str
    sector: str
    jurisdiction: str
    status: str = Agency.Status.ACTIVE
    people: tuple[PersonSpec, ...] = ()

    def email(self, local: str) -> str:
        return f"{local}@{self.domain}.example"


AGENCIES: tuple[AgencySpec, ...] = (
    AgencySpec(
        "nfa",
        "National Flood Agency",
        "NFA",
        L.NATIONAL,
        SECTOR.EMERGENCY_MANAGEMENT,
        "Nationwide",
        people=(
            PersonSpec("admin", "Margaret", "Holloway", "Head of Corporate Services", ADMIN),
            PersonSpec(
                "liaison",
                "Daniel",
                "Okafor",
                "Flood Duty Manager",
                LIAISON,
                "Formed the flood response: sees all of it, TLP:RED included; assigns NFA "
                "staff to roles and ends assignments; try “why can I see this?”.",
            ),
            PersonSpec(
                "liaison2",
                "Sian",
                "Pritchard",
                "Partnerships Manager",
                LIAISON,
                "A liaison officer with no role yet: sees no task force until one is assigned.",
            ),
            PersonSpec("deputy", "Tom", "Ashworth", "Deputy Director, Incident Management"),
            PersonSpec(
                "ops",
                "Priya",
                "Raman",
                "Flood Operations Manager",
                hint="Creates and assigns tasks; has acknowledged the critical update.",
            ),
            PersonSpec("planning", "Gareth", "Lewis", "Hydrology Planning Lead"),
            PersonSpec(
                "analyst",
                "Hannah",
                "Novak",
                "Flood Forecasting Analyst",
                hint="Sees the TLP:RED infrastructure assessment (lead agency, analyst role).",
            ),
        ),
    ),
    AgencySpec(
        "rhs",
        "Regional Health Service",
        "RHS",
        L.REGIONAL,
        SECTOR.HEALTH,
        "Severn Valley region",
        people=(
            PersonSpec("admin", "Evelyn", "Marsh", "Director of Operations", ADMIN),
            PersonSpec(
                "liaison",
                "Samuel",
                "Adeyemi",
                "Emergency Planning Officer",
                LIAISON,
                "Accepted both invitations; assigns RHS staff in both task forces.",
            ),
            PersonSpec(
                "analyst",
                "Chloe",
                "Bennett",
                "Public Health Intelligence Analyst",
                hint="Analyst, but the agreement with NFA stops at TLP:AMBER: RED stays hidden.",
            ),
            PersonSpec("clinical", "Aisha", "Rahman", "Clinical Lead, Emergency Care"),
            PersonSpec(
                "safeguarding",
                "Fiona",
                "Gallagher",
                "Safeguarding Lead",
                hint="Sees Lantern's AMBER items only; asked to acknowledge the arrival warning.",
            ),
        ),
    ),
    AgencySpec(
        "rpd",
        "City of Riverton Police",
        "RPD",
        L.LOCAL,
        SECTOR.LAW_ENFORCEMENT,
        "City of Riverton",
        people=(
            PersonSpec("admin", "Robert", "Hayes", "Chief Inspector, Corporate Support", ADMIN),
            PersonSpec(
                "liaison",
                "Laura",
                "Kim",
                "Inspector, Emergency Planning",
                LIAISON,
                "Acknowledged the critical flood update; assigns RPD officers.",
            ),
            PersonSpec(
                "patrol",
                "Marcus",
                "Reid",
                "Neighbourhood Policing Sergeant",
                hint="Evacuation task in progress; a critical update waits for acknowledgement.",
            ),
            PersonSpec(
                "detective",
                "Elena",
                "Petrova",
                "Detective Sergeant, Public Protection",
                hint="Sees only Lantern's AMBER items (RPD's agreement with BCA).",
            ),
            PersonSpec(
                "press",
                "Jordan",
                "Blake",
                "Media Relations Officer",
                hint="A critical update waits for acknowledgement.",
            ),
        ),
    ),
    AgencySpec(
        "ncg",
        "National Coastguard",
        "NCG",
        L.NATIONAL,
        SECTOR.TRANSPORT,
        "Coast and territorial waters",
        people=(
            PersonSpec("admin", "Alistair", "Fraser", "Head of Business Support", ADMIN),
            PersonSpec(
                "liaison",
                "Kirsty",
                "Munro",
                "Coastal Operations Controller",
                LIAISON,
                "Declined the flood response; the Operation Lantern invitation awaits an answer.",
            ),
            PersonSpec("controller", "Ewan", "Campbell", "Maritime Rescue Coordinator"),
            PersonSpec("pilot", "Rhiannon", "Jones", "Search and Rescue Helicopter Pilot"),
        ),
    ),
    AgencySpec(
        "redcross",
        "Red Cross — Riverton chapter",
        "RCR",
        L.NON_GOVERNMENTAL,
        SECTOR.SOCIAL_SERVICES,
        "Riverton and district",
        people=(
            PersonSpec("admin", "Grace", "Whitfield", "Chapter Director", ADMIN),
            PersonSpec(
                "liaison",
                "Omar",
                "Haddad",
                "Emergency Response Coordinator",
                LIAISON,
                "TLP:GREEN agreement with NFA: sees only the flood response's GREEN items.",
            ),
            PersonSpec(
                "shelter",
                "Beth",
                "Morgan",
                "Rest Centre Manager",
                hint="Finished the rest-centre task; sees GREEN items only.",
            ),
            PersonSpec(
                "welfare",
                "Kwame",
                "Mensah",
                "Welfare Volunteer Lead",
                hint="Access ends by itself when the assignment expires.",
            ),
        ),
    ),
    AgencySpec(
        "threerivers",
        "Three Rivers Nation Emergency Services",
        "TRN",
        L.TRIBAL,
        SECTOR.EMERGENCY_MANAGEMENT,
        "Three Rivers Nation lands",
        people=(
            PersonSpec("admin", "Marie", "Thompson", "Director of Emergency Services", ADMIN),
            PersonSpec(
                "liaison",
                "Curtis",
                "Lee",
                "Emergency Management Coordinator",
                LIAISON,
                "Active agency in no task force: sees nothing inside one (need-to-know).",
            ),
            PersonSpec("community", "Naomi", "Hart", "Community Response Officer"),
            PersonSpec("fire", "Ray", "Bowman", "Fire and Rescue Captain"),
        ),
    ),
    AgencySpec(
        "bca",
        "Border & Customs Agency",
        "BCA",
        L.NATIONAL,
        SECTOR.BORDER,
        "Ports and borders",
        people=(
            PersonSpec("admin", "Philip", "Carter", "Head of Information Governance", ADMIN),
            PersonSpec(
                "liaison",
                "Nadia",
                "Hussain",
                "Senior Investigations Officer",
                LIAISON,
                "Formed Operation Lantern (AMBER+STRICT): sees all of it, TLP:RED included.",
            ),
            PersonSpec("deputy", "Ian", "Douglas", "Deputy Director, Border Intelligence"),
            PersonSpec("investigator", "Sofia", "Alvarez", "Criminal Investigator"),
            PersonSpec(
                "analyst",
                "Lukas",
                "Weber",
                "Intelligence Analyst",
                hint="Sees the TLP:RED source-protection objective.",
            ),
        ),
    ),
    AgencySpec(
        "interpol",
        "Interpol Liaison Office",
        "IPLO",
        L.INTERNATIONAL,
        SECTOR.LAW_ENFORCEMENT,
        "International",
        people=(
            PersonSpec("admin", "Claire", "Dubois", "Office Manager", ADMIN),
            PersonSpec(
                "liaison",
                "Mateo",
                "Rossi",
                "Liaison Officer",
                LIAISON,
                "Acknowledged the critical Lantern update.",
            ),
            PersonSpec(
                "analyst",
                "Yuki",
                "Tanaka",
                "Criminal Intelligence Analyst",
                hint="AMBER+STRICT agreement with BCA: sees AMBER+STRICT items but not TLP:RED.",
            ),
            PersonSpec("notices", "Ana", "Costa", "Notices and Diffusions Officer"),
        ),
    ),
    # Waiting for a portal administrator: one new application, one under review.
    AgencySpec(
        "svwa",
        "Severn Valley Water Authority",
        "SVWA",
        L.REGIONAL,
        SECTOR.ENVIRONMENT,
        "Severn Valley catchment",
        status=Agency.Status.APPLIED,
    ),
    AgencySpec(
        "jmac",
        "Joint Military Assistance Command",
        "JMAC",
        L.NATIONAL,
        SECTOR.DEFENCE,
        "Nationwide",
        status=Agency.Status.UNDER_REVIEW,
    ),
)

PORTAL_ADMIN_HINT = (
    "Django admin at /admin/: review the Severn Valley Water Authority's application, approve "
    "the Joint Military Assistance Command, suspend an agency, read the audit trail. "
    "Sees nothing inside task forces."
)


def register_demo_idp(agency: Agency, by: User) -> None:
    """Register (or put back) the demo agency's identity provider."""
    identity_services.save_provider(
        agency=agency,
        by=by,
        issuer=DEMO_IDP_ISSUER,
        client_id=DEMO_IDP_CLIENT_ID,
        client_secret=DEMO_IDP_SECRET,
        domains=[f"{DEMO_IDP_DOMAIN}.example"],
        mfa_enforced=True,
        new_people="account",
        password_sign_in=True,
    )


class Seeder:
    """Builds the demo, one service call at a time, in the caller's transaction."""

    def __init__(self) -> None:
        self.today = timezone.localdate()
        self.now = timezone.now()
        self.agencies: dict[str, Agency] = {}
        self.people: dict[str, User] = {}

    # --- helpers ---------------------------------------------------------------------------

    def days(self, n: int) -> datetime.date:
        return self.today + datetime.timedelta(days=n)

    def person(self, email: str) -> User:
        return self.people[email]

    @staticmethod
    def role(task_force: TaskForce, slug: str) -> Role:
        return Role.objects.get(task_force=task_force, template__slug=slug)

    # --- the steps -------------------------------------------------------------------------

    def run(self) -> None:
        self.admin = self.portal_admin()
        self.onboard_agencies()
        self.add_people()
        self.identity_provider()
        self.record_agreements()
        self.flood_response()
        self.operation_lantern()

    def portal_admin(self) -> User:
        # No service creates portal administrators: the user manager is the one way in
        # (the same one ``createsuperuser`` uses).
        return User.objects.create_superuser(
            email=PORTAL_ADMIN_EMAIL,
            password=DEMO_PASSWORD,
            first_name="Alex",
            last_name="Morgan",
            job_title="Portal administrator",
        )

    def onboard_agencies(self) -> None:
        """Every agency applies; the portal administrator reviews and approves most."""
        for spec in AGENCIES:
            agency = agency_services.apply_for_agency(
                name=spec.name,
                acronym=spec.acronym,
                level=spec.level,
                sector=spec.sector,
                jurisdiction=spec.jurisdiction,
                contact_email=spec.email("contact"),
                website=f"https://www.{spec.domain}.example/",
            )
            if spec.status != Agency.Status.APPLIED:
                agency = agency_services.begin_review(agency=agency, by=self.admin)
            if spec.status == Agency.Status.ACTIVE:
                agency = agency_services.approve_agency(agency=agency, by=self.admin)
            self.agencies[spec.domain] = agency

    def add_people(self) -> None:
        """The portal administrator names each agency's first administrator; that
        administrator adds the agency's liaison officers and staff."""
        for spec in AGENCIES:
            agency = self.agencies[spec.domain]
            agency_admin: User | None = None
            for p in spec.people:
                membership = agency_services.add_member(
                    agency=agency,
                    email=spec.email(p.local),
                    first_name=p.first_name,
                    last_name=p.last_name,
                    job_title=p.job_title,
                    role=p.role,
                    password=DEMO_PASSWORD,
                    by=agency_admin or self.admin,
                )
                if p.role == ADMIN and agency_admin is None:
                    agency_admin = membership.user
                self.people[membership.user.email] = membership.user

    def identity_provider(self) -> None:
        """The National Flood Agency's administrator registers its identity provider (the
        local one ``make idp`` starts): its people may sign in through it or with their
        password; newcomers get an account at once; its MFA counts. It stays disabled
        until ``make idp`` has tested the connection and enabled it."""
        spec = next(s for s in AGENCIES if s.domain == DEMO_IDP_DOMAIN)
        register_demo_idp(self.agencies[spec.domain], self.person(spec.email("admin")))

    def record_agreements(self) -> None:
        """Each lead agency's administrator proposes its agreements with the partners, and
        each partner's liaison officer accepts them."""
        agreements = [
            ("nfa", "rhs", Marking.AMBER, "NFA–RHS flood and public health information sharing"),
            ("nfa", "rpd", Marking.AMBER, "NFA–Riverton Police emergency response protocol"),
            ("nfa", "redcross", Marking.GREEN, "NFA–Red Cross humanitarian information sharing"),
            ("nfa", "ncg", Marking.AMBER, "NFA–Coastguard flood rescue framework"),
            ("bca", "interpol", Marking.AMBER_STRICT, "BCA–Interpol counter-trafficking exchange"),
            ("bca", "rhs", Marking.AMBER, "BCA–RHS victim safeguarding protocol"),
            ("bca", "rpd", Marking.AMBER, "BCA–Riverton Police joint investigations"),
            ("bca", "ncg", Marking.AMBER, "BCA–Coastguard maritime border security"),
        ]
        for lead, partner, marking, title in agreements:
            proposal = agency_services.propose_agreement(
                title=title,
                parties=[self.agencies[lead], self.agencies[partner]],
                max_marking=marking,
                valid_from=self.days(-365),
                valid_until=self.days(2 * 365),
                by=self.person(f"admin@{lead}.example"),
            )
            agency_services.accept_agreement(
                agreement=proposal, by=self.person(f"liaison@{partner}.example")
            )

    def join(
        self,
        task_force: TaskForce,
        invited_by: User,
        answers: Iterable[tuple[str, bool | None, str]],
    ) -> None:
        """Invite agencies; each liaison accepts (True), declines (False) or not yet (None)."""
        for domain, accept, text in answers:
            participation = services.invite_agency(
                task_force=task_force,
                agency=self.agencies[domain],
                by=invited_by,
                message=text if accept is not False else "",
            )
            if accept is not None:
                services.respond_to_invitation(
                    participation=participation,
                    accept=accept,
                    by=self.person(f"liaison@{domain}.example"),
                    reason="" if accept else text,
                )

    def assign(
        self,
        task_force: TaskForce,
        assignments: Iterable[tuple[str, str]],
        until: dict[str, datetime.datetime] | None = None,
    ) -> None:
        """Each liaison officer assigns their own agency's people (role slug, e-mail)."""
        for slug, email in assignments:
            domain = email.split("@")[1]
            services.assign_role(
                role=self.role(task_force, slug),
                person=self.person(email),
                assigned_by=self.person(f"liaison@{domain}"),
                until=(until or {}).get(email),
            )

    def objective(self, task_force: TaskForce, by: str, **fields: Any) -> Objective:
        owner = self.agencies[fields.pop("owner")]
        contributors = [self.agencies[d] for d in fields.pop("contributors", ())]
        return services.create_objective(
            task_force=task_force,
            owner_agency=owner,
            contributing_agencies=contributors,
            by=self.person(by),
            **fields,
        )

    def task(
        self,
        objective: Objective,
        title: str,
        *,
        by: str,
        due: int,
        assignee: str | None = None,
        role: str | None = None,
        status: str | None = None,
        description: str = "",
    ) -> Task:
        task = services.create_task(
            objective=objective,
            title=title,
            description=description,
            by=self.person(by),
            assignee=self.person(assignee) if assignee else None,
            assigned_role=self.role(objective.task_force, role) if role else None,
            due_date=self.days(due),
        )
        if status:
            # The person doing the work moves it along (or the task manager for role tasks).
            mover = assignee or by
            task = services.update_task(task=task, by=self.person(mover), status=status)
        return task

    # --- task force 1 ----------------------------------------------------------------------

    def flood_response(self) -> None:
        commander = self.person("liaison@nfa.example")
        tf = services.form_task_force(
            name=FLOOD,
            mandate=(
                "Protect life and property along the River Severn through Riverton during "
                "the current flood event: warn and evacuate residents at risk, keep flood "
                "defences, hospitals and care homes working, and shelter the displaced."
            ),
            marking=Marking.AMBER,
            by=commander,
        )
        self.join(
            tf,
            commander,
            [
                ("rhs", True, "Hospitals and care homes in the flood zone need your planners."),
                ("rpd", True, "We need cordons and door-to-door evacuation in Lower Riverton."),
                ("redcross", True, "Rest centres and welfare for displaced residents."),
                ("ncg", False, "All rescue assets are committed to the east-coast storm surge."),
            ],
        )
        services.transition_task_force(
            task_force=tf, to_status=TaskForce.Status.ACTIVE, by=commander
        )
        self.assign(
            tf,
            [
                ("deputy-commander", "deputy@nfa.example"),
                ("operations-lead", "ops@nfa.example"),
                ("planning-lead", "planning@nfa.example"),
                ("intelligence-analyst", "analyst@nfa.example"),
                ("intelligence-analyst", "analyst@rhs.example"),
                ("member", "clinical@rhs.example"),
                ("public-information-officer", "press@rpd.example"),
                ("member", "patrol@rpd.example"),
                ("member", "shelter@redcross.example"),
                ("observer", "welfare@redcross.example"),
            ],
            until={"welfare@redcross.example": self.now + datetime.timedelta(days=21)},
        )

        # 12-hour operational periods: the last one, the one running now, and the next
        hour = datetime.timedelta(hours=1)
        start = self.now.replace(minute=0, second=0, microsecond=0) - 6 * hour
        periods = [
            services.create_period(
                task_force=tf,
                starts_at=start + (n - 2) * 12 * hour,
                ends_at=start + (n - 1) * 12 * hour,
                notes=notes,
                by=commander,
            )
            for n, notes in (
                (1, "Warning and informing; barriers to Quay Street."),
                (2, "Evacuate Zones A and B before the peak; rest centre open."),
                (3, "Peak and recession: hold the embankment, plan the return."),
            )
        ]

        ops = "ops@nfa.example"
        evacuate = self.objective(
            tf,
            ops,
            period=periods[1],
            title="Evacuate at-risk properties in Lower Riverton",
            description="Zones A and B (about 420 homes) below the Quay Street embankment.",
            owner="rpd",
            contributors=["nfa", "redcross"],
            priority=Objective.Priority.CRITICAL,
            target_date=self.days(2),
        )
        self.task(
            evacuate,
            "Door-to-door evacuation of Zones A and B",
            by=ops,
            assignee="patrol@rpd.example",
            due=1,
            status=Task.Status.IN_PROGRESS,
        )
        self.task(
            evacuate,
            "Close Quay Street and Mill Lane to traffic",
            by=ops,
            role="member",
            due=0,
            status=Task.Status.DONE,
        )
        services.update_objective(
            objective=evacuate, by=self.person(ops), status=Objective.Status.ON_TRACK
        )

        shelter = self.objective(
            tf,
            ops,
            title="Shelter and welfare for displaced residents",
            owner="redcross",
            contributors=["rhs", "nfa"],
            priority=Objective.Priority.HIGH,
            target_date=self.days(7),
            marking=Marking.GREEN,
        )
        self.task(
            shelter,
            "Open the rest centre at Riverton Leisure Centre",
            by=ops,
            assignee="shelter@redcross.example",
            due=0,
            status=Task.Status.DONE,
        )
        self.task(
            shelter,
            "Welfare checks on vulnerable residents",
            by=ops,
            assignee="welfare@redcross.example",
            due=3,
        )
        self.task(
            shelter,
            "Publish rest-centre locations to the public",
            by=ops,
            role="public-information-officer",
            due=1,
            status=Task.Status.IN_PROGRESS,
        )
        services.update_objective(
            objective=shelter, by=self.person(ops), status=Objective.Status.ON_TRACK
        )

        defences = self.objective(
            tf,
            ops,
            title="Hold the flood defences on the Severn embankment",
            owner="nfa",
            contributors=["rpd"],
            priority=Objective.Priority.HIGH,
            target_date=self.days(5),
        )
        self.task(
            defences,
            "Deploy temporary barriers at Quay Street",
            by=ops,
            assignee=ops,
            due=1,
            status=Task.Status.IN_PROGRESS,
        )
        self.task(
            defences,
            "Hourly river-level readings at the Riverton gauge",
            by=ops,
            role="intelligence-analyst",
            due=5,
            status=Task.Status.IN_PROGRESS,
        )
        services.update_objective(
            objective=defences, by=self.person(ops), status=Objective.Status.AT_RISK
        )

        hospitals = self.objective(
            tf,
            "planning@nfa.example",
            title="Keep hospitals and care homes operating",
            owner="rhs",
            contributors=["nfa"],
            priority=Objective.Priority.HIGH,
            target_date=self.days(10),
        )
        self.task(
            hospitals,
            "Assess flood risk to St Mary's Hospital",
            by="planning@nfa.example",
            assignee="analyst@rhs.example",
            due=2,
            status=Task.Status.DONE,
        )
        self.task(
            hospitals,
            "Arrange patient transfers from Severnside Care Home",
            by="planning@nfa.example",
            assignee="clinical@rhs.example",
            due=2,
        )

        infrastructure = self.objective(
            tf,
            "liaison@nfa.example",
            title="Critical infrastructure vulnerability assessment",
            description="Substations and water treatment works at risk; not for release.",
            owner="nfa",
            priority=Objective.Priority.MEDIUM,
            target_date=self.days(4),
            marking=Marking.RED,
        )
        self.task(
            infrastructure,
            "Model inundation of Riverton substations",
            by="liaison@nfa.example",
            assignee="analyst@nfa.example",
            due=2,
            status=Task.Status.IN_PROGRESS,
        )
        self.task(
            infrastructure,
            "Brief the commander on single points of failure",
            by="liaison@nfa.example",
            assignee="analyst@nfa.example",
            due=4,
        )

        services.post_update(
            task_force=tf,
            kind=Update.Kind.SITREP,
            title="SITREP 1 — River Severn at Riverton",
            body=(
                "Situation: the Severn at the Riverton gauge is 4.2 m and rising 8 cm an hour; "
                "peak expected in 30 hours.\nActions: barriers going up at Quay Street; "
                "evacuation of Zones A and B under way; rest centre open.\n"
                "Next report: 18:00."
            ),
            by=self.person("planning@nfa.example"),
        )
        critical = services.post_update(
            task_force=tf,
            title="Embankment breach risk at Quay Street — evacuate Zone A now",
            body=(
                "Engineers report seepage behind the Quay Street wall. Complete the "
                "evacuation of Zone A within two hours and keep the public away from the "
                "river path. Acknowledge on receipt."
            ),
            by=commander,
            requires_acknowledgement=True,
            ack_roles=[
                self.role(tf, "operations-lead"),
                self.role(tf, "public-information-officer"),
            ],
            ack_agencies=[self.agencies["rpd"]],
        )
        services.acknowledge_update(update=critical, by=self.person("ops@nfa.example"))
        services.acknowledge_update(update=critical, by=self.person("liaison@rpd.example"))
        services.post_update(
            task_force=tf,
            title="Rest centre open: 140 beds at Riverton Leisure Centre",
            body="Hot food, bedding and pet space available. Welfare team on site around the clock.",
            marking=Marking.GREEN,
            by=self.person("shelter@redcross.example"),
        )
        # the timeline: a decision and a log entry written by hand
        services.write_log_entry(
            task_force=tf,
            kind="decision",
            subject="Zone A evacuation",
            text="Commander orders Zone A cleared before the evening peak; police to close Quay Street.",
            occurred_at=self.now - 2 * hour,
            significant=True,
            by=commander,
        )
        services.write_log_entry(
            task_force=tf,
            text="River gauge at Riverton Bridge: 4.6 m and rising 10 cm an hour.",
            occurred_at=self.now - hour,
            marking=Marking.GREEN,
            by=self.person("planning@nfa.example"),
        )

    # --- task force 2 ----------------------------------------------------------------------

    def operation_lantern(self) -> None:
        commander = self.person("liaison@bca.example")
        tf = services.form_task_force(
            name=LANTERN,
            mandate=(
                "Disrupt the network smuggling people through the Port of Riverton, "
                "safeguard its victims and bring its organisers to justice with partner "
                "forces at home and abroad."
            ),
            marking=Marking.AMBER_STRICT,
            by=commander,
        )
        self.join(
            tf,
            commander,
            [
                ("interpol", True, "Links to notices in three member countries."),
                ("rhs", True, "Health screening and safeguarding for victims."),
                ("rpd", True, "Arrests and disruption in the city."),
                ("ncg", None, "Vessel tracking on the approaches to the port."),
            ],
        )
        services.transition_task_force(
            task_force=tf, to_status=TaskForce.Status.ACTIVE, by=commander
        )
        self.assign(
            tf,
            [
                ("deputy-commander", "deputy@bca.example"),
                ("operations-lead", "investigator@bca.example"),
                ("intelligence-analyst", "analyst@bca.example"),
                ("intelligence-analyst", "analyst@interpol.example"),
                ("member", "notices@interpol.example"),
                ("member", "safeguarding@rhs.example"),
                ("member", "detective@rpd.example"),
            ],
        )

        ops = "investigator@bca.example"
        routes = self.objective(
            tf,
            ops,
            title="Map the network's smuggling routes",
            owner="bca",
            contributors=["interpol"],
            priority=Objective.Priority.CRITICAL,
            target_date=self.days(30),
        )
        self.task(
            routes,
            "Cross-check vessel manifests against Interpol notices",
            by=ops,
            assignee="analyst@interpol.example",
            due=10,
            status=Task.Status.IN_PROGRESS,
        )
        self.task(
            routes,
            "Analyse container seizures at the Port of Riverton",
            by=ops,
            assignee="analyst@bca.example",
            due=-2,
            status=Task.Status.DONE,
        )
        services.update_objective(
            objective=routes, by=self.person(ops), status=Objective.Status.ON_TRACK
        )

        victims = self.objective(
            tf,
            ops,
            title="Identify and safeguard victims",
            owner="rhs",
            contributors=["bca", "rpd"],
            priority=Objective.Priority.HIGH,
            target_date=self.days(14),
            marking=Marking.AMBER,
        )
        self.task(
            victims,
            "Set up health screening at the reception centre",
            by=ops,
            assignee="safeguarding@rhs.example",
            due=3,
            status=Task.Status.IN_PROGRESS,
        )
        self.task(
            victims,
            "Agree the referral pathway with victim support services",
            by=ops,
            role="member",
            due=7,
        )

        arrests = self.objective(
            tf,
            ops,
            title="Coordinate arrests and disruption with partner forces",
            owner="rpd",
            contributors=["bca", "interpol"],
            priority=Objective.Priority.HIGH,
            target_date=self.days(45),
            marking=Marking.AMBER,
        )
        self.task(
            arrests,
            "Prepare warrant applications for the Dock Road addresses",
            by=ops,
            assignee="detective@rpd.example",
            due=21,
        )
        self.task(
            arrests,
            "Request Interpol diffusions for the two named organisers",
            by=ops,
            assignee="notices@interpol.example",
            due=5,
            status=Task.Status.IN_PROGRESS,
        )

        sources = self.objective(
            tf,
            "liaison@bca.example",
            title="Protect the covert source reporting",
            description="Handling arrangements for the source inside the network.",
            owner="bca",
            priority=Objective.Priority.CRITICAL,
            target_date=self.days(7),
            marking=Marking.RED,
        )
        self.task(
            sources,
            "Review source handling and tasking records",
            by="liaison@bca.example",
            assignee="analyst@bca.example",
            due=7,
        )
        self.task(
            sources,
            "Assess the risk to the source before the Thursday arrivals",
            by="liaison@bca.example",
            assignee="analyst@bca.example",
            due=2,
            status=Task.Status.IN_PROGRESS,
        )

        services.post_update(
            task_force=tf,
            kind=Update.Kind.SITREP,
            title="Weekly intelligence summary — week 1",
            body=(
                "Three vessels linked to the network identified; two addresses on Dock Road "
                "under observation; health screening ready at the reception centre."
            ),
            marking=Marking.AMBER,
            by=self.person(ops),
        )
        critical = services.post_update(
            task_force=tf,
            title="Suspected victims arriving on MV Northern Star, Thursday 06:00",
            body=(
                "Up to twelve people may be concealed on board. Health screening and "
                "safeguarding teams to be at berth 7 from 05:30. Acknowledge on receipt."
            ),
            marking=Marking.AMBER,
            by=commander,
            requires_acknowledgement=True,
            ack_agencies=[self.agencies["rhs"], self.agencies["interpol"]],
        )
        services.acknowledge_update(update=critical, by=self.person("liaison@interpol.example"))


class Command(BaseCommand):
    help = "Load Concord's demo agencies, people and task forces (idempotent) and print the logins."

    def handle(self, *args: Any, **options: Any) -> None:
        has_admin = User.objects.filter(email=PORTAL_ADMIN_EMAIL).exists()
        has_marker = Agency.objects.filter(name=MARKER_AGENCY).exists()
        if has_admin and has_marker:
            self.stdout.write("Demo data is already loaded; nothing changed.")
        elif has_admin or has_marker:
            found = PORTAL_ADMIN_EMAIL if has_admin else f"the agency {MARKER_AGENCY!r}"
            raise CommandError(
                f"Found {found} but not the rest of the demo data; refusing to mix demo data "
                "into this database. Use a fresh database for the demo."
            )
        else:
            # The demo's own events still fill everyone's notification centre, but the
            # e-mails they would cause (over a hundred) are kept out of the console: those
            # sent at once and those the notifications' outbox hands to the mail server.
            locmem = "django.core.mail.backends.locmem.EmailBackend"
            try:
                with override_settings(EMAIL_BACKEND=locmem, CONCORD_EMAIL_TRANSPORT=locmem):
                    with transaction.atomic():
                        Seeder().run()
                        # mutual aid lives in a higher layer (its own app): named, not imported
                        if apps.is_installed("mutualaid"):
                            call_command("seed_mutual_aid", stdout=StringIO())
                    held = len(getattr(mail, "outbox", []))
            except (ValidationError, PermissionDenied) as error:
                raise CommandError(f"Could not load the demo data: {error}") from error
            self.stdout.write(self.style.SUCCESS("Demo data loaded."))
            if held:
                self.stdout.write(
                    f"({held} notification e-mails the demo data caused were not sent; "
                    "the notifications are in each person's notification centre.)"
                )
        self.print_logins()
        self.stdout.write(self.style.SUCCESS("Concord demo data is ready."))

    # --- the logins table ------------------------------------------------------------------

    def print_logins(self) -> None:
        """The demo logins, with the roles they hold now (read back from the database, so
        the table is right on a second run too) and what to try with each."""
        emails = [spec.email(p.local) for spec in AGENCIES for p in spec.people]
        agencies = {a.name: a for a in Agency.objects.filter(name__in=[s.name for s in AGENCIES])}
        roles: dict[str, list[str]] = defaultdict(list)
        current = (
            RoleAssignment.objects.current()
            .filter(person__email__in=emails)
            .select_related("person", "role__task_force")
            .order_by("role__task_force__created_at", "role__order")
        )
        for a in current:
            tf = SHORT_NAMES.get(a.role.task_force.name, a.role.task_force.name)
            until = f" until {a.ends_at:%d %b}" if a.ends_at else ""
            roles[a.person.email].append(f"{a.role.name}{until} ({tf})")

        out = self.stdout.write
        out("")
        out("=" * WIDTH)
        out(f"CONCORD DEMO LOGINS — the password of every account is: {DEMO_PASSWORD}")
        out("=" * WIDTH)
        out("Agencies:")
        for spec in AGENCIES:
            agency = agencies.get(spec.name)
            status = agency.get_status_display().lower() if agency else "missing"
            out(
                f"  {spec.acronym:<5} {spec.name} — {L(spec.level).label.lower()}, "
                f"{SECTOR(spec.sector).label.lower()}; {status}"
            )
        out("")
        out(f"{'E-MAIL':<30} {'AGENCY':<6} {'AGENCY ROLE':<21} WHAT THEY CAN DO / WHAT TO TRY")
        out("-" * WIDTH)
        self.row(PORTAL_ADMIN_EMAIL, "—", "Portal administrator", PORTAL_ADMIN_HINT)
        for spec in AGENCIES:
            if spec.people:
                out("")
            for p in spec.people:
                email = spec.email(p.local)
                held = roles.get(email, [])
                text = ("Roles: " + "; ".join(held) + ". ") if held else ""
                hint = p.hint
                if not hint and p.role == ADMIN:
                    hint = (
                        f"Manages {spec.acronym}'s staff and names its liaison officers; "
                        "holds no task force role."
                    )
                elif not hint and not held:
                    hint = "Holds no task force role, so sees none."
                self.row(email, spec.acronym, Membership.Role(p.role).label, text + hint)
        out("-" * WIDTH)
        out(f"Password for every account above: {DEMO_PASSWORD}")
        # (the address is the server's: ``make run`` prints it next, with its HOST_PORT)
        out("Sign in at /accounts/login/ of the portal's address — Django admin at /admin/")
        out("=" * WIDTH)

    def row(self, email: str, agency: str, role: str, text: str) -> None:
        lines = textwrap.wrap(text, width=WIDTH - 60) or [""]
        self.stdout.write(f"{email:<30} {agency:<6} {role:<21} {lines[0]}")
        for line in lines[1:]:
            self.stdout.write(f"{'':<59} {line}")
