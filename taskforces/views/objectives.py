"""Task force pages. Each view: fetch through the permission core, call a service,
render. A thing the person may not see is "not found", whether it exists or not; a
thing they may see but not change is refused with the reason (403, from the permission
core's ``require``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import BadRequest
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from agencies.models import Agency
from agencies.selectors import membership_of
from coordination import onetime
from coordination.permissions import PermissionDenied, can, explain, require
from coordination.web import (
    filter_list,
    paginate,
    query_without_page,
    run_service,
    visible_or_404,
)

from .. import calendar as calendar_feeds
from .. import forms, selectors, services
from ..filtersets import ObjectiveFilter, TaskForceFilter, TaskListFilter
from ..models import (
    Acknowledgement,
    CalendarFeed,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    Update,
)

# --- dashboard ------------------------------------------------------------------------


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """My task forces and roles, my tasks by due date, updates waiting for my
    acknowledgement, my agency's pending invitations (liaisons), pending applications
    (portal administrators), my agency's role assignments due for recertification
    (agency administrators)."""
    user = request.user

    def due_for_recertification() -> int:
        # called by the template for agency administrators only: no query for anyone else
        return RoleAssignment.objects.due_for_recertification().restrict(user, "recertify").count()

    context: dict[str, Any] = {
        "task_forces": selectors.task_forces_for(user).order_by("name")[:20],
        "assignments": selectors.my_current_assignments(user)[:50],
        "tasks": selectors.my_open_tasks(user)[:20],
        "to_acknowledge": selectors.updates_awaiting_my_acknowledgement(user)[:20],
        "invitations": Participation.objects.restrict(user, "respond")
        .filter(status=Participation.Status.INVITED)
        .select_related("task_force__lead_agency", "agency")[:20],
        "due_for_recertification": due_for_recertification,
    }
    if user.is_portal_admin:  # type: ignore[union-attr]
        context["applications"] = (
            Agency.objects.restrict(user, "review")
            .filter(status__in=(Agency.Status.APPLIED, Agency.Status.UNDER_REVIEW))
            .order_by("applied_at")[:20]
        )
    return render(request, "taskforces/dashboard.html", context)


# --- calendar feed ------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def calendar(request: HttpRequest) -> HttpResponse:
    """My calendar feed: make one (or a new one, which replaces the old address) and
    revoke it. A new address is shown once, on the answer to the request that made it."""
    secret = None
    feed = calendar_feeds.live_feed(request.user)  # type: ignore[arg-type]
    replaced = request.method == "POST" and feed is not None
    if request.method == "POST":
        feed, secret = calendar_feeds.create_feed(actor=request.user)  # type: ignore[arg-type]
    feed_url = (
        request.build_absolute_uri(reverse("taskforces:calendar-feed", args=[secret]))
        if secret
        else None
    )
    return render(
        request,
        "taskforces/calendar.html",
        {
            "feed": feed,
            "secret": secret,
            "feed_url": feed_url,
            "webcal_url": "webcal://" + feed_url.split("://", 1)[1] if feed_url else None,
            "replaced": replaced,
            "history": calendar_feeds.HISTORY.days,
        },
    )


@login_required
@require_POST
def calendar_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke my calendar feed. Someone else's feed is "not found", as if it did not exist."""
    feed = CalendarFeed.objects.filter(owner_id=request.user.pk, pk=pk).first()
    if feed is None:
        raise Http404("Not found.")
    if feed.revoked_at is None:
        calendar_feeds.revoke_feed(actor=request.user, feed=feed)  # type: ignore[arg-type]
        messages.success(request, "Your calendar address was revoked; it no longer works.")
    return redirect("taskforces:calendar")


@require_safe
def calendar_feed(request: HttpRequest, secret: str) -> HttpResponse:
    """The feed itself, fetched by calendar apps without a session: the secret in the
    address is the credential. Unknown and revoked addresses are "not found"."""
    feed = calendar_feeds.feed_for_secret(secret)
    if feed is None:
        raise Http404("Not found.")
    ical = calendar_feeds.build_calendar(feed.owner)
    calendar_feeds.record_use(feed=feed, items=len(ical.subcomponents))
    response = HttpResponse(ical.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="concord.ics"'
    # personal data behind a secret address: no shared cache may keep it
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- task forces ------------------------------------------------------------------------


@login_required
def task_force_list(request: HttpRequest) -> HttpResponse:
    filterset = TaskForceFilter(
        request.GET or None,
        queryset=selectors.task_forces_for(request.user).order_by("name"),
        request=request,
    )
    queryset = filter_list(request, filterset)
    membership = membership_of(request.user)
    return render(
        request,
        "taskforces/task_force_list.html",
        {
            "filter": filterset,
            "page_obj": paginate(request, queryset),
            "query": query_without_page(request),
            "may_form": membership is not None
            and membership.role == "liaison"
            and membership.agency.is_active,
        },
    )


@login_required
def task_force_create(request: HttpRequest) -> HttpResponse:
    """A liaison officer of an active agency forms a task force; their agency leads it."""
    form = forms.TaskForceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        task_force = run_service(
            form, lambda: services.form_task_force(by=request.user, **form.cleaned_data)
        )
        if task_force is not None:
            messages.success(
                request,
                f"{task_force} is formed. You hold its Commander and Liaison officer roles.",
            )
            return redirect("taskforces:detail", task_force.pk)
    return render(
        request,
        "taskforces/form.html",
        {"form": form, "title": "Form a task force", "submit": "Form task force"},
    )


@login_required
def task_force_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.select_related("lead_agency"), request.user, pk)
    user = request.user
    participations = (
        Participation.objects.filter(task_force=task_force)
        .select_related("agency")
        .order_by("agency__name")
    )
    return render(
        request,
        "taskforces/task_force_detail.html",
        {
            "task_force": task_force,
            "sees_mandate": selectors.sees_mandate(user, task_force),
            "participations": participations,
            "objectives": selectors.visible_objectives(user, task_force)[:10],
            "updates": selectors.visible_updates(user, task_force)[:5],
            "period": selectors.upcoming_period(task_force),
            "now": timezone.now(),
            "why": explain(user, "view", task_force),
            "may": {
                action: can(user, action, task_force)
                for action in (
                    "change",
                    "manage_participation",
                    "manage_objectives",
                    "post_updates",
                )
            },
            "status_form": forms.TaskForceStatusForm(),
            "my_participation": Participation.objects.restrict(user, "respond")
            .filter(task_force=task_force)
            .first(),
        },
    )


@login_required
def task_force_edit(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "change", task_force)
    if not selectors.sees_mandate(request.user, task_force):
        raise PermissionDenied(
            f"The mandate is marked {task_force.get_marking_display()}, above what you see "
            "here: only someone who sees it may edit the task force.",
            obj=task_force,
        )
    initial = {
        "name": task_force.name,
        "mandate": task_force.mandate,
        "marking": task_force.marking,
    }
    form = forms.TaskForceForm(request.POST or None, initial=initial)
    if (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form,
            lambda: services.update_task_force(
                task_force=task_force, by=request.user, **form.cleaned_data
            ),
        )
    ):
        messages.success(request, "Saved.")
        return redirect("taskforces:detail", task_force.pk)
    return render(
        request,
        "taskforces/form.html",
        {"form": form, "title": f"Edit {task_force}", "submit": "Save", "task_force": task_force},
    )


@login_required
@require_POST
def task_force_status(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "change", task_force)
    form = forms.TaskForceStatusForm(request.POST)
    if form.is_valid() and run_service(
        form,
        lambda: services.transition_task_force(
            task_force=task_force, to_status=form.cleaned_data["status"], by=request.user
        ),
    ):
        messages.success(
            request,
            f"{task_force} is now {TaskForce.Status(form.cleaned_data['status']).label.lower()}.",
        )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("taskforces:detail", task_force.pk)


@login_required
def invite_agency(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "manage_participation", task_force)
    form = forms.InviteAgencyForm(request.POST or None, task_force=task_force)
    if request.method == "POST" and form.is_valid():
        participation = run_service(
            form,
            lambda: services.invite_agency(
                task_force=task_force, by=request.user, **form.cleaned_data
            ),
        )
        if participation is not None:
            messages.success(
                request, f"{participation.agency} is invited; its liaison officers will be told."
            )
            return redirect("taskforces:detail", task_force.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Invite an agency to {task_force}",
            "submit": "Invite",
            "task_force": task_force,
        },
    )


@login_required
def respond(request: HttpRequest, pk: int) -> HttpResponse:
    """A liaison officer accepts or declines their agency's invitation."""
    participation = visible_or_404(
        Participation.objects.select_related("task_force__lead_agency", "agency"),
        request.user,
        pk,
        "respond",
    )
    form = forms.RespondForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        accept = form.cleaned_data["decision"] == "accept"
        done = run_service(
            form,
            lambda: services.respond_to_invitation(
                participation=participation,
                accept=accept,
                by=request.user,
                reason=form.cleaned_data["reason"],
            ),
        )
        if done is not None:
            if accept:
                messages.success(
                    request,
                    f"{participation.agency} takes part in {participation.task_force}. You hold its Liaison officer role and can assign your people.",
                )
                return redirect("taskforces:detail", participation.task_force_id)
            messages.success(request, f"You declined the invitation to {participation.task_force}.")
            return redirect("dashboard")
    return render(
        request, "taskforces/respond.html", {"form": form, "participation": participation}
    )


@login_required
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    participation = visible_or_404(
        Participation.objects.select_related("task_force", "agency"), request.user, pk
    )
    form = forms.ReasonForm(request.POST or None)
    withdrawn = (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form,
            lambda: services.withdraw_agency(
                participation=participation, by=request.user, reason=form.cleaned_data["reason"]
            ),
        )
    )
    if withdrawn:
        messages.success(
            request,
            f"{participation.agency} has withdrawn from {participation.task_force}; its people's roles there have ended.",
        )
        return redirect("dashboard")
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Withdraw {participation.agency} from {participation.task_force}",
            "submit": "Withdraw",
            "danger": True,
            "task_force": participation.task_force,
        },
    )


# --- organisation and assignments ---------------------------------------------------------


@login_required
def organisation(request: HttpRequest, pk: int) -> HttpResponse:
    """The organisation chart (ICS 203): roles, responsibilities, holders and agencies."""
    task_force = visible_or_404(TaskForce.objects.select_related("lead_agency"), request.user, pk)
    membership = membership_of(request.user)
    may_assign = (
        membership is not None
        and membership.role == "liaison"
        and can(request.user, "assign_roles", task_force)
    )
    return render(
        request,
        "taskforces/organisation.html",
        {
            "task_force": task_force,
            "roles": selectors.organisation_chart(task_force),
            "may_assign": may_assign,
            "my_agency_id": membership.agency_id if membership else None,
            "may_change": can(request.user, "change", task_force),
        },
    )


@login_required
def role_create(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "change", task_force)
    form = forms.RoleForm(request.POST or None, task_force=task_force)
    if request.method == "POST" and form.is_valid():
        role = run_service(
            form,
            lambda: services.create_role(
                task_force=task_force, by=request.user, **form.cleaned_data
            ),
        )
        if role is not None:
            messages.success(request, f"The role {role.name} is added.")
            return redirect("taskforces:organisation", task_force.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Add a role to {task_force}",
            "submit": "Add role",
            "task_force": task_force,
        },
    )


@login_required
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """A liaison officer assigns one of their own agency's people to a role."""
    role = visible_or_404(Role.objects.select_related("task_force"), request.user, pk)
    membership = membership_of(request.user)
    require(request.user, "assign_roles", role.task_force)
    form = forms.AssignRoleForm(
        request.POST or None, agency=membership.agency if membership else None
    )
    if request.method == "POST" and form.is_valid():
        assignment = run_service(
            form,
            lambda: services.assign_role(
                role=role,
                person=form.cleaned_data["person"],
                until=form.cleaned_data["until"],
                assigned_by=request.user,
            ),
        )
        if assignment is not None:
            messages.success(request, f"{assignment.person} now holds {role.name}.")
            return redirect("taskforces:organisation", role.task_force_id)
    return render(
        request,
        "taskforces/assign.html",
        {"form": form, "role": role, "task_force": role.task_force},
    )


@login_required
def end_assignment(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = visible_or_404(
        RoleAssignment.objects.select_related("role__task_force", "person", "agency"),
        request.user,
        pk,
    )
    require(request.user, "change", assignment)
    form = forms.ReasonForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form,
            lambda: services.end_assignment(
                assignment=assignment, by=request.user, reason=form.cleaned_data["reason"]
            ),
        )
    ):
        messages.success(request, f"{assignment.person} no longer holds {assignment.role.name}.")
        return redirect("taskforces:organisation", assignment.role.task_force_id)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"End {assignment.person}'s role {assignment.role.name}",
            "submit": "End assignment",
            "danger": True,
            "task_force": assignment.role.task_force,
        },
    )


@login_required
def assignment_until(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = visible_or_404(
        RoleAssignment.objects.select_related("role__task_force", "person"), request.user, pk
    )
    require(request.user, "change", assignment)
    form = forms.AssignmentUntilForm(request.POST or None, initial={"until": assignment.ends_at})
    if (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form,
            lambda: services.set_assignment_end(
                assignment=assignment, until=form.cleaned_data["until"], by=request.user
            ),
        )
    ):
        messages.success(request, "End date saved.")
        return redirect("taskforces:organisation", assignment.role.task_force_id)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"End date for {assignment.person} as {assignment.role.name}",
            "submit": "Save",
            "task_force": assignment.role.task_force,
        },
    )


# --- objectives and tasks -------------------------------------------------------------------


@login_required
def objectives_board(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    user = request.user
    base = selectors.visible_objectives(user, task_force).prefetch_related(
        "contributing_agencies",
        Prefetch(
            "tasks",
            queryset=Task.objects.restrict(user, "view").select_related(
                "assignee", "assigned_role"
            ),
            to_attr="visible_tasks",
        ),
    )
    filterset = ObjectiveFilter(request.GET or None, queryset=base)
    # owners to choose from: this task force's agencies, not every agency in the portal
    # (thousands of options made the page grow with the federation)
    filterset.filters["owner_agency"].queryset = Agency.objects.filter(
        status=Agency.Status.ACTIVE, participations__task_force=task_force
    ).order_by("name")
    queryset = filter_list(request, filterset)
    return render(
        request,
        "taskforces/objectives_board.html",
        {
            "task_force": task_force,
            "filter": filterset,
            "page_obj": paginate(request, queryset, per_page=20),
            "query": query_without_page(request),
            "may_manage": can(user, "manage_objectives", task_force),
        },
    )


@login_required
def objective_create(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "manage_objectives", task_force)
    form = forms.ObjectiveForm(request.POST or None, task_force=task_force)
    if request.method == "POST" and form.is_valid():
        objective = run_service(
            form,
            lambda: services.create_objective(
                task_force=task_force, by=request.user, **form.cleaned_data
            ),
        )
        if objective is not None:
            messages.success(request, "Objective added.")
            return redirect("taskforces:objective", objective.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"New objective for {task_force}",
            "submit": "Add objective",
            "task_force": task_force,
        },
    )


@login_required
def objective_detail(request: HttpRequest, pk: int) -> HttpResponse:
    objective = visible_or_404(
        Objective.objects.select_related("task_force", "owner_agency"), request.user, pk
    )
    user = request.user
    tasks = (
        Task.objects.restrict(user, "view")
        .filter(objective=objective)
        .select_related("assignee", "assigned_role")
    )
    return render(
        request,
        "taskforces/objective_detail.html",
        {
            "objective": objective,
            "task_force": objective.task_force,
            "progress": selectors.objective_progress(objective),
            "contributors": objective.contributing_agencies.all(),
            "tasks": tasks,
            "why": explain(user, "view", objective),
            "may_change": can(user, "change", objective),
            "may_add_task": can(user, "manage_tasks", objective.task_force),
        },
    )


@login_required
def objective_edit(request: HttpRequest, pk: int) -> HttpResponse:
    objective = visible_or_404(Objective.objects.select_related("task_force"), request.user, pk)
    require(request.user, "change", objective)
    initial = {
        "title": objective.title,
        "description": objective.description,
        "owner_agency": objective.owner_agency_id,
        "contributing_agencies": list(objective.contributing_agencies.all()),
        "status": objective.status,
        "priority": objective.priority,
        "target_date": objective.target_date,
        "marking": objective.marking,
        "period": objective.period_id,
    }
    form = forms.ObjectiveForm(
        request.POST or None, initial=initial, task_force=objective.task_force
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        contributors = data.pop("contributing_agencies")
        if run_service(
            form,
            lambda: services.update_objective(
                objective=objective, by=request.user, contributing_agencies=contributors, **data
            ),
        ):
            messages.success(request, "Objective saved.")
            return redirect("taskforces:objective", objective.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Edit {objective}",
            "submit": "Save",
            "task_force": objective.task_force,
        },
    )


@login_required
def task_create(request: HttpRequest, pk: int) -> HttpResponse:
    objective = visible_or_404(Objective.objects.select_related("task_force"), request.user, pk)
    require(request.user, "manage_tasks", objective.task_force)
    form = forms.TaskForm(request.POST or None, task_force=objective.task_force)
    if request.method == "POST" and form.is_valid():
        task = run_service(
            form,
            lambda: services.create_task(objective=objective, by=request.user, **form.cleaned_data),
        )
        if task is not None:
            messages.success(request, "Task added.")
            return redirect("taskforces:objective", objective.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"New task under {objective}",
            "submit": "Add task",
            "task_force": objective.task_force,
        },
    )


@login_required
def task_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The tasks of a task force the person may see, filtered (and exported) like the
    objectives board."""
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    filterset = TaskListFilter(
        request.GET or None,
        queryset=selectors.visible_tasks(request.user, task_force),
        objectives=Objective.objects.restrict(request.user, "view")
        .filter(task_force=task_force)
        .order_by("title", "id"),
    )
    return render(
        request,
        "taskforces/task_list.html",
        {
            "task_force": task_force,
            "filter": filterset,
            "page_obj": paginate(request, filter_list(request, filterset), per_page=50),
            "query": query_without_page(request),
        },
    )


@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = visible_or_404(
        Task.objects.select_related("objective", "task_force", "assignee", "assigned_role"),
        request.user,
        pk,
    )
    may_change = can(request.user, "change", task)
    return render(
        request,
        "taskforces/task_detail.html",
        {
            "task": task,
            "task_force": task.task_force,
            "why": explain(request.user, "view", task),
            "may_change": may_change,
            "may_edit": can(request.user, "manage_tasks", task.task_force)
            and not task.task_force.is_closed,
            "status_form": forms.TaskStatusForm(initial={"status": task.status}),
        },
    )


@login_required
@require_POST
def task_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a task's status (its assignee, its role's holders, or task managers). With
    HTMX, answers with the status fragment only."""
    task = visible_or_404(Task.objects.select_related("task_force"), request.user, pk)
    require(request.user, "change", task)
    form = forms.TaskStatusForm(request.POST)
    if form.is_valid() and run_service(
        form,
        lambda: services.update_task(
            task=task, by=request.user, status=form.cleaned_data["status"]
        ),
    ):
        task.refresh_from_db()
        if not request.htmx:  # type: ignore[attr-defined]
            messages.success(request, f"Task is now {task.get_status_display().lower()}.")
    context = {
        "task": task,
        "status_form": form
        if form.errors
        else forms.TaskStatusForm(initial={"status": task.status}),
        "may_change": True,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(
            request, "taskforces/_task_status.html", context, status=400 if form.errors else 200
        )
    return redirect("taskforces:task", task.pk)


@login_required
def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    task = visible_or_404(Task.objects.select_related("task_force", "objective"), request.user, pk)
    require(request.user, "manage_tasks", task.task_force)
    initial = {
        "title": task.title,
        "description": task.description,
        "assignee": task.assignee_id,
        "assigned_role": task.assigned_role_id,
        "due_date": task.due_date,
        "status": task.status,
        "period": task.period_id,
    }
    form = forms.TaskForm(request.POST or None, initial=initial, task_force=task.task_force)
    if (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form, lambda: services.update_task(task=task, by=request.user, **form.cleaned_data)
        )
    ):
        messages.success(request, "Task saved.")
        return redirect("taskforces:task", task.pk)
    return render(
        request,
        "taskforces/form.html",
        {"form": form, "title": f"Edit {task}", "submit": "Save", "task_force": task.task_force},
    )


# --- updates ----------------------------------------------------------------------------------


def _with_acknowledgement_state(updates: QuerySet[Update], user: Any) -> QuerySet[Update]:
    return updates.annotate(
        acknowledged_by_me=Exists(
            Acknowledgement.objects.filter(update_id=OuterRef("pk"), person_id=user.pk)
        ),
        asks_me=Exists(Update.objects.restrict(user, "acknowledge").filter(pk=OuterRef("pk"))),
    )


@login_required
def updates_feed(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    updates = _with_acknowledgement_state(
        selectors.visible_updates(request.user, task_force), request.user
    )
    return render(
        request,
        "taskforces/updates_feed.html",
        {
            "task_force": task_force,
            "page_obj": paginate(request, updates, per_page=20),
            "may_post": can(request.user, "post_updates", task_force),
        },
    )


@login_required
def update_create(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "post_updates", task_force)
    form = forms.UpdateForm(request.POST or None, task_force=task_force)
    if request.method == "POST" and form.is_valid():
        update = run_service(
            form,
            lambda: services.post_update(
                task_force=task_force, by=request.user, **form.cleaned_data
            ),
        )
        if update is not None:
            messages.success(request, "Update posted.")
            return redirect("taskforces:update", update.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Post to {task_force}",
            "submit": "Post",
            "task_force": task_force,
        },
    )


@login_required
def update_detail(request: HttpRequest, pk: int) -> HttpResponse:
    queryset = _with_acknowledgement_state(
        Update.objects.select_related("task_force", "author", "author_agency"), request.user
    )
    update = visible_or_404(queryset, request.user, pk)
    return render(
        request,
        "taskforces/update_detail.html",
        {
            "update": update,
            "task_force": update.task_force,
            "why": explain(request.user, "view", update),
            "acknowledgement_count": update.acknowledgements.count(),
        },
    )


@login_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    update = visible_or_404(Update.objects.all(), request.user, pk)
    services.acknowledge_update(update=update, by=request.user)
    if request.htmx and request.htmx.target == "ack-area":  # type: ignore[attr-defined]
        # the update's own page: answer with the count and the state together
        update = _with_acknowledgement_state(Update.objects.all(), request.user).get(pk=update.pk)
        return render(
            request,
            "taskforces/_ack_area.html",
            {"update": update, "acknowledgement_count": update.acknowledgements.count()},
        )
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "taskforces/_acknowledged.html", {"update": update})
    messages.success(request, "Acknowledged.")
    return redirect(
        request.POST.get("next")
        if _safe_next(request)
        else reverse("taskforces:update", args=[update.pk])
    )


def _safe_next(request: HttpRequest) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def acknowledge_by_link(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link in a critical update's e-mail. GET shows a confirmation (mail
    scanners that follow links must not acknowledge for the person); POST acknowledges
    for the person the link was made for, if they still may."""
    from coordination.models import User

    from ..notifications import ACK_MAX_AGE, ACK_SALT

    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=ACK_MAX_AGE)
        update = Update.objects.select_related("task_force").get(pk=data["u"])
        person = User.objects.get(pk=data["p"], is_active=True)
    except signing.SignatureExpired:
        raise BadRequest(
            "This acknowledgement link has expired. Sign in to Concord and acknowledge the update there."
        ) from None
    except (signing.BadSignature, KeyError, TypeError, Update.DoesNotExist, User.DoesNotExist):
        raise BadRequest("This acknowledgement link is not valid.") from None
    already = Acknowledgement.objects.filter(update=update, person=person).exists()
    if request.method == "POST" and not already:
        # the link works once (coordination.onetime); a second submission racing the
        # first finds it used and shows the acknowledgement the first one recorded
        with transaction.atomic():
            if onetime.use_once(onetime.ACKNOWLEDGEMENT, token):
                services.acknowledge_update(update=update, by=person)
        already = True
    return render(
        request,
        "taskforces/acknowledge_link.html",
        {"update": update, "person": person, "acknowledged": already},
    )


# --- operational periods ----------------------------------------------------------------------


@login_required
def period_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The task force's operational periods, the running one marked."""
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    periods = list(
        OperationalPeriod.objects.restrict(request.user, "view")
        .filter(task_force=task_force)
        .order_by("number")
    )
    now = timezone.now()
    return render(
        request,
        "taskforces/periods/list.html",
        {
            "task_force": task_force,
            "periods": periods,
            "current": next((p for p in periods if p.starts_at <= now < p.ends_at), None),
            "may_plan": can(request.user, "manage_objectives", task_force),
        },
    )


@login_required
def period_create(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "manage_objectives", task_force)
    form = forms.PeriodForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        period = run_service(
            form,
            lambda: services.create_period(
                task_force=task_force, by=request.user, **form.cleaned_data
            ),
        )
        if period is not None:
            messages.success(request, f"Operational period {period.number} is planned.")
            return redirect("taskforces:periods", task_force.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Plan an operational period for {task_force}",
            "submit": "Add period",
            "task_force": task_force,
        },
    )


@login_required
def period_edit(request: HttpRequest, pk: int) -> HttpResponse:
    period = visible_or_404(
        OperationalPeriod.objects.select_related("task_force"), request.user, pk
    )
    require(request.user, "change", period)
    initial = {
        "number": period.number,
        "starts_at": timezone.localtime(period.starts_at),
        "ends_at": timezone.localtime(period.ends_at),
        "notes": period.notes,
    }
    form = forms.PeriodForm(request.POST or None, initial=initial)
    if (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form,
            lambda: services.update_period(period=period, by=request.user, **form.cleaned_data),
        )
    ):
        messages.success(request, "Operational period saved.")
        return redirect("taskforces:periods", period.task_force_id)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Edit operational period {period.number}",
            "submit": "Save",
            "task_force": period.task_force,
        },
    )


@login_required
def period_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a period after a confirmation; its objectives and tasks stay, untied."""
    period = visible_or_404(
        OperationalPeriod.objects.select_related("task_force"), request.user, pk
    )
    require(request.user, "change", period)
    if request.method == "POST":
        services.delete_period(period=period, by=request.user)
        messages.success(request, f"Operational period {period.number} is removed.")
        return redirect("taskforces:periods", period.task_force_id)
    return render(
        request,
        "taskforces/periods/delete.html",
        {
            "period": period,
            "task_force": period.task_force,
            "tied_objectives": period.objectives.count(),
            "tied_tasks": period.tasks.count(),
        },
    )
