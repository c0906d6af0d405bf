"""The access review: an agency administrator's list of every open role assignment their
agency's people hold, in every task force, each to recertify or end.

It is shown among the agency's pages (``/agencies/<pk>/access-review/``, URL name
``agencies:access-review``, template ``agencies/access_review.html``) but it is task-force
work: it lists, recertifies and ends role assignments. So it lives here, above agencies;
the project's URLconf (``coordination/urls.py``) puts :data:`urlpatterns` in the agencies'
namespace, and the agencies app imports nothing of it.
"""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from agencies.models import Agency
from coordination.models import User
from coordination.validators import REASON_LENGTH
from coordination.web.forms import line_field, model_choice
from coordination.web.pages import paginate, query_without_page, run_service, visible_or_404

from . import services
from .models import Capability, RoleAssignment, TaskForce
from .permissions import reviewed_agency_ids

GET_POST = require_http_methods(["GET", "POST"])


class AccessReviewActionForm(forms.Form):
    """One row's action on the access review: recertify (with an optional note) or end
    (with a reason). ``assignments`` is what the page lists: an id outside it is an error."""

    RECERTIFY = "recertify"
    END = "end"

    assignment = forms.ModelChoiceField(queryset=RoleAssignment.objects.none())
    action = forms.ChoiceField(choices=((RECERTIFY, "Recertify"), (END, "End")))
    note = line_field(
        max_length=REASON_LENGTH,
        required=False,
        help_text="Optional. Kept in the audit trail with the recertification.",
    )
    reason = line_field(
        max_length=REASON_LENGTH,
        required=False,
        help_text="Required to end an assignment. The holder will be told it.",
    )

    def __init__(self, *args: Any, assignments: QuerySet[RoleAssignment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice(self, "assignment").queryset = assignments

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == self.END and not data.get("reason", "").strip():
            self.add_error("reason", "Give a reason; the holder will be told it.")
        return data


class AccessReviewFilter(django_filters.FilterSet):
    """Access review filters: one person, one task force, due for recertification or not.

    The choices are the agency's own people and the task forces they hold open roles in;
    anything else (another agency's person, an id that does not exist, text) is a form
    error, never silently ignored."""

    person = django_filters.ModelChoiceFilter(
        queryset=User.objects.none(), label="Person", empty_label="Everyone"
    )
    task_force = django_filters.ModelChoiceFilter(
        field_name="role__task_force",
        queryset=TaskForce.objects.none(),
        label="Task force",
        empty_label="Every task force",
    )
    due = django_filters.ChoiceFilter(
        choices=(("yes", "Due for recertification"), ("no", "Not due")),
        method="filter_due",
        label="Recertification",
        empty_label="Due or not",
    )

    class Meta:
        model = RoleAssignment
        fields = ("person", "task_force", "due")

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["person"].queryset = User.objects.filter(
            memberships__agency=agency, memberships__is_active=True
        ).order_by("last_name", "first_name", "email")
        self.filters["task_force"].queryset = TaskForce.objects.filter(
            pk__in=self.queryset.values("role__task_force_id")
        ).order_by("name", "pk")

    def filter_due(
        self, queryset: QuerySet[RoleAssignment], name: str, value: str
    ) -> QuerySet[RoleAssignment]:
        due = RoleAssignment.objects.due_for_recertification().values("pk")
        return queryset.filter(pk__in=due) if value == "yes" else queryset.exclude(pk__in=due)


# A few words per capability, for the review table (the full labels are on Capability).
CAPABILITY_WORDS = {
    Capability.VIEW: "view",
    Capability.CHANGE: "edit task force",
    Capability.MANAGE_PARTICIPATION: "invite agencies",
    Capability.ASSIGN_ROLES: "assign roles",
    Capability.MANAGE_OBJECTIVES: "objectives",
    Capability.MANAGE_TASKS: "tasks",
    Capability.POST_UPDATES: "post updates",
    Capability.VIEW_RESTRICTED: "TLP:RED",
    Capability.REQUEST_RESOURCES: "request resources",
    Capability.APPROVE_RESOURCES: "approve resources",
}


def _review_action(data: dict[str, Any], by: User) -> str:
    """Carry out one row's action; returns what to tell the administrator."""
    assignment: RoleAssignment = data["assignment"]
    what = f"{assignment.person}'s role {assignment.role.name} in {assignment.role.task_force}"
    if data["action"] == AccessReviewActionForm.END:
        services.end_assignment(assignment=assignment, by=by, reason=data["reason"])
        return f"{what} has ended."
    done = services.recertify_assignment(actor=by, assignment=assignment, note=data["note"])
    return f"{what} is recertified; it is due again on {done.recertification_due_at:%d %b %Y}."


@login_required
@GET_POST
def access_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Every open role assignment the agency's people hold, in every task force: since
    when, made by whom, last recertified when and by whom, and whether it is due; each
    can be recertified or ended (with a reason). Only the agency's own administrators
    see it; for everyone else, portal administrators included, it is "not found"."""
    user = cast(User, request.user)
    agency = visible_or_404(
        Agency.objects.filter(pk__in=reviewed_agency_ids(user)), user, pk, "manage_members"
    )
    now = timezone.now()
    assignments = RoleAssignment.objects.open(now).filter(agency=agency).restrict(user, "view")
    form = AccessReviewActionForm(request.POST or None, assignments=assignments)
    query = query_without_page(request)
    if request.method == "POST" and form.is_valid():
        done = run_service(form, lambda: _review_action(form.cleaned_data, user))
        if done is not None:
            messages.success(request, done)
            url = reverse("agencies:access-review", args=[agency.pk])
            return redirect(f"{url}?{query}" if query else url)
    filterset = AccessReviewFilter(request.GET or None, queryset=assignments, agency=agency)
    context: dict[str, Any] = {
        "agency": agency,
        "filter": filterset,
        "query": query,
        "form": form,
        # the assignment a refused action was about, when the id itself was valid
        "failed": form.cleaned_data.get("assignment") if form.is_bound and form.errors else None,
        "recertify_days": settings.CONCORD_RECERTIFY_DAYS,
    }
    if filterset.is_bound and not filterset.is_valid():
        # Bad filter values are named on the form, never silently ignored.
        return render(request, "agencies/access_review.html", context, status=400)
    rows = (
        filterset.qs.select_related("role__task_force", "person", "assigned_by", "recertified_by")
        .alias(recertify_from=Coalesce("recertified_at", "starts_at"))
        .order_by("recertify_from", "pk")  # the longest unconfirmed first
    )
    page_obj = paginate(request, rows)
    for assignment in page_obj:
        assignment.due = assignment.is_due_for_recertification(now)
        assignment.capability_words = [
            CAPABILITY_WORDS.get(c, c) for c in assignment.role.capabilities
        ]
    ids = [a.pk for a in page_obj]
    allowed = {
        action: set(
            RoleAssignment.objects.restrict(user, action)
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        if ids
        else set()
        for action in ("recertify", "end")
    }
    context.update(
        {"page_obj": page_obj, "may_recertify": allowed["recertify"], "may_end": allowed["end"]}
    )
    return render(request, "agencies/access_review.html", context)


# Included by the project's URLconf in the agencies' namespace (see the module's docstring).
urlpatterns = [
    path("agencies/<int:pk>/access-review/", access_review, name="access-review"),
]
