"""Objectives and their tasks: the board, the task list, their pages and forms."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from coordination.permissions import can, explain, require
from coordination.web.pages import (
    AuthenticatedHttpRequest,
    filter_list,
    paginate,
    query_without_page,
    run_service,
    visible_or_404,
)

from .. import forms, selectors, services
from ..board import (
    BoardFilters,
    BoardObjectives,
    Card,
    may_change_objectives,
    owner_agencies,
    owner_choices,
)
from ..filtersets import ObjectiveFilter, TaskListFilter
from ..lifecycles import OBJECTIVE
from ..models import Objective, Task, TaskForce
from ._links import row_link
from ._pages import form_page, task_force_or_404

BOARD_PAGE_SIZE = 60


def _board(
    request: AuthenticatedHttpRequest, task_force: TaskForce, params: QueryDict
) -> dict[str, Any]:
    """The objectives board's context: the cards of the person's visible objectives
    (filtered by ``params``, the board's query string; ``taskforces.board``) in one column
    per status, each with the moves its lifecycle allows and whether the person may make
    them (the permission core's "change", which for an objective depends on its task force
    alone: asked once for the board)."""
    user = request.user
    filterset = ObjectiveFilter(params or None, queryset=Objective.objects.all())
    filterset.filters["owner_agency"].queryset = owner_agencies(task_force)
    filtered = bool(params.keys() - {"page"})
    if filtered and not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()
        )
        raise BadRequest(f"Invalid filter — {problems}")
    # the same agencies as options, read by one statement (the queryset checks a choice)
    filterset.form.fields["owner_agency"].rows = owner_choices(task_force)
    raw = params.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest("The page number must be a whole number of at least 1.")
    cleaned = filterset.form.cleaned_data if filtered else {}
    cards = BoardObjectives(
        user,
        task_force,
        BoardFilters.of(cleaned),
        narrow=filterset.filter_queryset if filtered else None,
    )
    paginator: Paginator[Card] = Paginator(cards, BOARD_PAGE_SIZE)
    if int(raw) > paginator.num_pages:
        raise BadRequest(f"There are only {paginator.num_pages} pages.")
    page = paginator.page(int(raw))
    by_status: dict[str, list[Card]] = {status: [] for status in Objective.Status.values}
    may_change = may_change_objectives(user, task_force)
    objective_link = row_link("taskforces:objective")
    move_link = row_link("taskforces:objective-status")
    task_link = row_link("taskforces:task")
    for card in page:
        card.moves = OBJECTIVE.moves_from(card.status)
        card.may_change = may_change
        card.link = objective_link(card.pk)
        card.move_link = move_link(card.pk)
        for task in card.tasks:
            task.link = task_link(task.pk)
        by_status[card.status].append(card)
    query = params.copy()
    query.pop("page", None)
    return {
        "task_force": task_force,
        "filter": filterset,
        "filtered": filtered,
        "page_obj": page,
        "columns": [
            (Objective.Status(status), objectives) for status, objectives in by_status.items()
        ],
        "query": query.urlencode(),
        "board_query": params.urlencode(),
        "may_manage": can(user, "manage_objectives", task_force),
        "today": timezone.localdate(),
    }


@login_required
def objectives_board(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The objectives board: a column per status, a card per objective; each card's
    status moves in place (htmx) or by a plain POST."""
    task_force = task_force_or_404(request, pk)
    return render(
        request, "taskforces/objectives_board.html", _board(request, task_force, request.GET)
    )


@login_required
@require_POST
def objective_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Move an objective to another status from its card on the board, through the same
    service as the edit form (which checks the person's right and the lifecycle). With
    htmx the answer is the board again, the card in its new column and focused; without,
    a redirect back to the board. A refused move changes nothing and says why."""
    objective = visible_or_404(Objective.objects.select_related("task_force"), request.user, pk)
    task_force = objective.task_force
    form = forms.ObjectiveStatusForm(request.POST)
    valid = form.is_valid()
    # the board to show again: its query string, once the form found it clean
    params = QueryDict(form.cleaned_data.get("board_query", "") if valid else "")
    if valid:
        run_service(
            form,
            lambda: services.update_objective(
                objective=objective, by=request.user, status=form.cleaned_data["status"]
            ),
        )
    errors = [str(error) for errors in form.errors.values() for error in errors]
    if not errors:
        objective.refresh_from_db(fields=["status"])
        done = f"“{objective.title}” is now {objective.get_status_display().lower()}."
    if request.htmx:
        context = _board(request, task_force, params)
        context.update(
            {"moved": objective.pk, "board_errors": errors, "board_done": "" if errors else done}
        )
        # 200 even when refused: htmx swaps only successful answers, and the board must
        # show why nothing moved (the message is the board's error summary)
        return render(request, "taskforces/_board.html", context)
    if errors:
        context = _board(request, task_force, params)
        context.update({"board_errors": errors})
        return render(request, "taskforces/objectives_board.html", context, status=400)
    messages.success(request, done)
    target = reverse("taskforces:objectives", args=[task_force.pk])
    return redirect(f"{target}?{params.urlencode()}#objective-{objective.pk}")


@login_required
def objective_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "manage_objectives", task_force)
    return form_page(
        request,
        forms.ObjectiveForm(request.POST or None, task_force=task_force),
        save=lambda data: services.create_objective(task_force=task_force, by=request.user, **data),
        saved="Objective added.",
        then=lambda objective: reverse("taskforces:objective", args=[objective.pk]),
        context={
            "title": f"New objective for {task_force}",
            "submit": "Add objective",
            "task_force": task_force,
        },
    )


@login_required
def objective_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    objective = visible_or_404(
        Objective.objects.select_related("task_force", "owner_agency"), request.user, pk
    )
    user = request.user
    tasks = (
        Task.objects.restrict(user, "view", within=objective.task_force)
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
def objective_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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

    def save(data: dict[str, Any]) -> Objective:
        data = dict(data)
        contributors = data.pop("contributing_agencies")
        return services.update_objective(
            objective=objective, by=request.user, contributing_agencies=contributors, **data
        )

    return form_page(
        request,
        forms.ObjectiveForm(
            request.POST or None,
            initial=initial,
            task_force=objective.task_force,
            current_status=objective.status,
        ),
        save=save,
        saved="Objective saved.",
        then=lambda _: reverse("taskforces:objective", args=[objective.pk]),
        context={
            "title": f"Edit {objective}",
            "submit": "Save",
            "task_force": objective.task_force,
        },
    )


@login_required
def task_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    objective = visible_or_404(Objective.objects.select_related("task_force"), request.user, pk)
    require(request.user, "manage_tasks", objective.task_force)
    return form_page(
        request,
        forms.TaskForm(request.POST or None, task_force=objective.task_force),
        save=lambda data: services.create_task(objective=objective, by=request.user, **data),
        saved="Task added.",
        then=lambda _: reverse("taskforces:objective", args=[objective.pk]),
        context={
            "title": f"New task under {objective}",
            "submit": "Add task",
            "task_force": objective.task_force,
        },
    )


@login_required
def task_list(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The tasks of a task force the person may see, filtered (and exported) like the
    objectives board."""
    task_force = task_force_or_404(request, pk)
    filterset = TaskListFilter(
        request.GET or None,
        queryset=selectors.visible_tasks(request.user, task_force),
        objectives=Objective.objects.restrict(request.user, "view", within=task_force).order_by(
            "title", "id"
        ),
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
def task_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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
def task_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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
        if not request.htmx:
            messages.success(request, f"Task is now {task.get_status_display().lower()}.")
    context = {
        "task": task,
        "status_form": form
        if form.errors
        else forms.TaskStatusForm(initial={"status": task.status}),
        "may_change": True,
    }
    if request.htmx:
        return render(
            request, "taskforces/_task_status.html", context, status=400 if form.errors else 200
        )
    return redirect("taskforces:task", task.pk)


@login_required
def task_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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
    return form_page(
        request,
        forms.TaskForm(request.POST or None, initial=initial, task_force=task.task_force),
        save=lambda data: services.update_task(task=task, by=request.user, **data),
        saved="Task saved.",
        then=lambda _: reverse("taskforces:task", args=[task.pk]),
        context={"title": f"Edit {task}", "submit": "Save", "task_force": task.task_force},
    )
