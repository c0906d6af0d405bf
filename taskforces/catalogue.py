"""The default role catalogue (ICS-style positions), loaded by a data migration and by
``ensure_role_templates``. Portal administrators may edit or add templates later."""

from __future__ import annotations

from .models import Capability as C

ALL = [c.value for c in C]

DEFAULT_ROLE_TEMPLATES: list[dict[str, object]] = [
    {
        "slug": "commander",
        "name": "Commander",
        "order": 10,
        "default_max_holders": 1,
        "capabilities": ALL,
        "responsibilities": "Overall authority for the task force: sets objectives and priorities, "
        "approves the plan, decides which agencies take part and leads the command staff.",
    },
    {
        "slug": "deputy-commander",
        "name": "Deputy commander",
        "order": 20,
        "default_max_holders": 2,
        "capabilities": [c for c in ALL if c != C.ASSIGN_ROLES],
        "responsibilities": "Acts for the commander when absent and takes delegated parts of "
        "command; keeps the lifecycle, participation and objectives moving.",
    },
    {
        "slug": "liaison-officer",
        "name": "Liaison officer",
        "order": 30,
        "default_max_holders": None,
        "capabilities": [C.VIEW, C.ASSIGN_ROLES, C.POST_UPDATES],
        "responsibilities": "Represents their agency in the task force: assigns their agency's "
        "people to roles, ends those assignments, and is the agency's point of contact.",
    },
    {
        "slug": "operations-lead",
        "name": "Operations section lead",
        "order": 40,
        "default_max_holders": 1,
        "capabilities": [
            C.VIEW,
            C.MANAGE_OBJECTIVES,
            C.MANAGE_TASKS,
            C.POST_UPDATES,
            C.REQUEST_RESOURCES,
        ],
        "responsibilities": "Directs the tactical work that meets the objectives; assigns and "
        "tracks tasks across agencies; requests the resources the work needs.",
    },
    {
        "slug": "planning-lead",
        "name": "Planning section lead",
        "order": 50,
        "default_max_holders": 1,
        "capabilities": [
            C.VIEW,
            C.MANAGE_OBJECTIVES,
            C.MANAGE_TASKS,
            C.POST_UPDATES,
            C.REQUEST_RESOURCES,
            C.APPROVE_RESOURCES,
        ],
        "responsibilities": "Collects and evaluates information, prepares the plan and the "
        "situation reports, and tracks the status of resources: accepts or declines the offers "
        "agencies make against the task force's resource requests.",
    },
    {
        "slug": "intelligence-analyst",
        "name": "Intelligence analyst",
        "order": 60,
        "default_max_holders": None,
        "capabilities": [C.VIEW, C.POST_UPDATES, C.VIEW_RESTRICTED],
        "responsibilities": "Analyses information from every agency, including restricted "
        "material, and briefs the command staff.",
    },
    {
        "slug": "public-information-officer",
        "name": "Public information officer",
        "order": 70,
        "default_max_holders": 1,
        "capabilities": [C.VIEW, C.POST_UPDATES],
        "responsibilities": "Prepares public messages and media releases agreed by the "
        "commander; never releases material marked above TLP:CLEAR.",
    },
    {
        "slug": "member",
        "name": "Member",
        "order": 80,
        "default_max_holders": None,
        "capabilities": [C.VIEW, C.POST_UPDATES],
        "responsibilities": "Works on the tasks assigned to them and reports progress.",
    },
    {
        "slug": "observer",
        "name": "Observer",
        "order": 90,
        "default_max_holders": None,
        "capabilities": [C.VIEW],
        "responsibilities": "Follows the task force's work without taking part in it.",
    },
]
