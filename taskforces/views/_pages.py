"""The one skeleton of a create or edit page, and the task force a page is about.

``form_page`` belongs beside ``run_service`` in the core's page helpers
(``coordination.web``); it lives here until the core is reorganised into its
sub-packages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from coordination.web.pages import or_404, run_service

from .. import selectors
from ..models import TaskForce

T = TypeVar("T")


def form_page(
    request: HttpRequest,
    form: forms.BaseForm,
    *,
    save: Callable[[dict[str, Any]], T],
    saved: str | Callable[[T], str],
    then: Callable[[T], str],
    context: dict[str, Any],
    template: str = "taskforces/form.html",
) -> HttpResponse:
    """A valid POST calls the service (``save``, given the form's cleaned data); when it
    saved, the page says so (``saved``) and redirects (``then``, a URL). Otherwise, on a
    GET, an invalid form or the service's ValidationError (put on the form's fields), it
    renders ``template`` with the form and ``context``. A PermissionDenied from the service
    goes on to the core's 403 page."""
    if request.method == "POST" and form.is_valid():
        result = run_service(form, lambda: save(form.cleaned_data))
        if result is not None:
            messages.success(request, saved if isinstance(saved, str) else saved(result))
            return redirect(then(result))
    return render(request, template, {"form": form, **context})


def task_force_or_404(request: HttpRequest, pk: int, action: str = "view") -> TaskForce:
    """The task force the page is about, with its lead agency, if the person may
    ``action`` it; otherwise "not found", as ``visible_or_404`` answers (and records)."""
    return or_404(
        selectors.visible_task_force(request.user, pk, action), request.user, TaskForce, pk
    )
