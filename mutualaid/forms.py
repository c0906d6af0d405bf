"""Forms of the mutual aid pages. They validate input; the services hold the rules (a
service's ValidationError lands on the form's fields through ``run_service``)."""

from __future__ import annotations

from typing import Any

from django import forms

from agencies.models import Agency
from coordination.validators import PROSE_LENGTH, REASON_LENGTH
from coordination.web.forms import PlanMomentField, line_field, model_choice, prose_field
from coordination.web.widgets import DateTimeInput
from taskforces.forms import marking_field, participating_agencies
from taskforces.models import TaskForce

from .models import MAX_QUANTITY, Commitment, ResourceKind, ResourceRequest


def quantity_field(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, **kwargs)


class KindChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.get_category_display()}: {obj}"


class RequestForm(forms.Form):
    """Raise a resource request (ICS 213RR)."""

    kind = KindChoiceField(
        queryset=ResourceKind.objects.none(),
        required=False,
        label="Kind of resource",
        help_text="From the typed catalogue; or leave empty and say what is needed below.",
    )
    description = line_field(
        max_length=300,
        required=False,
        label="What is needed",
        help_text="Free text, or details of the kind chosen.",
    )
    quantity = quantity_field()
    location = line_field(max_length=300, label="Where it is needed")
    needed_by = PlanMomentField(widget=DateTimeInput(), label="Needed by")
    priority = forms.TypedChoiceField(
        choices=ResourceRequest.Priority.choices,
        coerce=int,
        initial=ResourceRequest.Priority.ROUTINE,
    )
    justification = prose_field(max_length=PROSE_LENGTH, rows=4)
    marking = marking_field()
    addressed_agencies = forms.ModelMultipleChoiceField(
        queryset=Agency.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Addressed to",
        help_text="Leave every box empty to ask every agency taking part.",
    )

    def __init__(self, *args: Any, task_force: TaskForce, agency_id: int | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        model_choice(self, "kind").queryset = ResourceKind.objects.filter(is_active=True)
        others = participating_agencies(task_force)
        if agency_id is not None:
            others = others.exclude(pk=agency_id)
        model_choice(self, "addressed_agencies").queryset = others
        self.fields["marking"].initial = task_force.marking

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("kind") and not (data.get("description") or "").strip():
            self.add_error("description", "Choose a kind of resource or say what is needed.")
        return data


class OfferForm(forms.Form):
    """Offer all or part of a request."""

    description = line_field(
        max_length=300, label="What is offered", help_text="e.g. 2 boats with crews of 4."
    )
    quantity = quantity_field()
    available_from = PlanMomentField(widget=DateTimeInput(), label="Available from")
    conditions = prose_field(
        max_length=REASON_LENGTH,
        required=False,
        help_text="Costs, how long they can stay, what they need on arrival.",
    )


class AcceptForm(forms.Form):
    quantity = quantity_field(label="Quantity accepted")


class ReasonForm(forms.Form):
    reason = prose_field(max_length=REASON_LENGTH, rows=2)


class OptionalReasonForm(forms.Form):
    reason = prose_field(max_length=REASON_LENGTH, rows=2, required=False)


class CommitmentStepForm(forms.Form):
    status = forms.ChoiceField(
        choices=[c for c in Commitment.Status.choices if c[0] != Commitment.Status.COMMITTED]
    )
    note = line_field(max_length=REASON_LENGTH, required=False)


class StatusFilterForm(forms.Form):
    """The request list's filter (htmx swaps the table when it changes)."""

    status = forms.ChoiceField(
        choices=[("", "Any status"), *ResourceRequest.Status.choices], required=False
    )
    priority = forms.TypedChoiceField(
        choices=[("", "Any priority"), *ResourceRequest.Priority.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )


class CapabilityForm(forms.Form):
    kind = KindChoiceField(queryset=ResourceKind.objects.none(), label="Kind of resource")
    typical_quantity = quantity_field(required=False, label="Typically available")
    notes = line_field(max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice(self, "kind").queryset = ResourceKind.objects.filter(is_active=True)
