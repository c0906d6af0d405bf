"""Forms for task force pages. They validate input; the services hold the rules."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from agencies.models import Agency
from coordination.models import User
from coordination.permissions.markings import Marking
from coordination.timefmt import format_span
from coordination.validators import NOTES_LENGTH, PROSE_LENGTH, REASON_LENGTH
from coordination.web.forms import DayField, PlanMomentField, line_field, model_choice, prose_field
from coordination.web.widgets import DateInput, DateTimeInput

from .lifecycles import OBJECTIVE
from .models import (
    Capability,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)
from .selectors import current_holders


def marking_field(**kwargs: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=Marking.choices,
        coerce=int,
        label="Sensitivity marking",
        help_text="TLP 2.0. People whose agency's agreement does not cover it will not see it.",
        **kwargs,
    )


class PeriodChoiceField(forms.ModelChoiceField):
    """One of the task force's operational periods, named by number and dates."""

    def label_from_instance(self, obj: Any) -> str:
        return f"Period {obj.number}: {format_span(obj.starts_at, obj.ends_at)}"


def period_field() -> PeriodChoiceField:
    return PeriodChoiceField(
        queryset=OperationalPeriod.objects.none(),
        required=False,
        label="Operational period",
        empty_label="No operational period",
        help_text="The ICS reports for that period include it.",
    )


class TaskForceForm(forms.Form):
    name = line_field()
    mandate = prose_field(
        max_length=PROSE_LENGTH,
        rows=4,
        help_text="What the task force is for and what it may decide.",
    )
    marking = marking_field(initial=Marking.AMBER)


class TaskForceStatusForm(forms.Form):
    status = forms.ChoiceField(choices=TaskForce.Status.choices, label="New status")


class InviteAgencyForm(forms.Form):
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(),
        empty_label="Choose an agency",
        help_text="Only active agencies that are not already taking part or invited.",
    )
    message = prose_field(max_length=REASON_LENGTH, required=False)

    def __init__(self, *args: Any, task_force: TaskForce, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        busy = Participation.objects.filter(
            task_force=task_force,
            status__in=(Participation.Status.INVITED, Participation.Status.ACCEPTED),
        ).values("agency_id")
        agency = cast(forms.ModelChoiceField, self.fields["agency"])  # declared so above
        agency.queryset = Agency.objects.filter(status=Agency.Status.ACTIVE).exclude(pk__in=busy)


class RespondForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("accept", "Accept"), ("decline", "Decline")], widget=forms.RadioSelect
    )
    reason = prose_field(
        max_length=REASON_LENGTH,
        rows=2,
        required=False,
        help_text="Required when declining.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "decline" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why your agency declines; the lead agency will be told.")
        return data


class ReasonForm(forms.Form):
    reason = prose_field(max_length=REASON_LENGTH, rows=2)


class AssignRoleForm(forms.Form):
    person = forms.ModelChoiceField(
        queryset=User.objects.none(),
        empty_label="Choose a person",
        help_text="Only active people of your own agency.",
    )
    until = PlanMomentField(
        required=False,
        widget=DateTimeInput(),
        label="Ends at",
        help_text="The role expires then.",
    )

    def __init__(self, *args: Any, agency: Agency | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people: QuerySet[User] = User.objects.none()
        if agency is not None:
            people = User.objects.filter(
                is_active=True,
                memberships__agency=agency,
                memberships__is_active=True,
            ).order_by("last_name", "first_name")
        model_choice(self, "person").queryset = people

    def clean_until(self) -> Any:
        until = self.cleaned_data.get("until")
        if until is not None and until <= timezone.now():
            raise forms.ValidationError("The end must be in the future.")
        return until


class AssignmentUntilForm(forms.Form):
    until = PlanMomentField(
        required=False,
        widget=DateTimeInput(),
        label="Ends at",
        help_text="Leave empty for no end date.",
    )


class RoleForm(forms.Form):
    name = line_field(max_length=100)
    responsibilities = prose_field(max_length=PROSE_LENGTH)
    capabilities = forms.MultipleChoiceField(
        choices=Capability.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    max_holders = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        label="Holder limit",
        help_text="Leave empty for no limit.",
    )
    eligible_agencies = forms.ModelMultipleChoiceField(
        queryset=Agency.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to let every participating agency fill it.",
    )

    def __init__(self, *args: Any, task_force: TaskForce, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice(self, "eligible_agencies").queryset = participating_agencies(task_force)


def _role_name(role: Role) -> str:
    """Inside one task force a role is just its name."""
    return role.name


def participating_agencies(task_force: TaskForce) -> QuerySet[Agency]:
    return Agency.objects.filter(
        participations__task_force=task_force, participations__status=Participation.Status.ACCEPTED
    ).order_by("name")


class ObjectiveForm(forms.Form):
    title = line_field()
    description = prose_field(max_length=PROSE_LENGTH, required=False)
    owner_agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(), empty_label="Choose the owner agency"
    )
    contributing_agencies = forms.ModelMultipleChoiceField(
        queryset=Agency.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    status = forms.ChoiceField(
        choices=Objective.Status.choices, initial=Objective.Status.NOT_STARTED
    )
    priority = forms.TypedChoiceField(
        choices=Objective.Priority.choices, coerce=int, initial=Objective.Priority.MEDIUM
    )
    target_date = DayField(required=False, widget=DateInput())
    marking = marking_field()
    period = period_field()

    def __init__(
        self, *args: Any, task_force: TaskForce, current_status: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        agencies = participating_agencies(task_force)
        model_choice(self, "owner_agency").queryset = agencies
        model_choice(self, "contributing_agencies").queryset = agencies
        self.fields["marking"].initial = task_force.marking
        model_choice(self, "period").queryset = task_force.operational_periods.order_by("number")
        if current_status is not None:
            # editing: offer the status it has and the moves its lifecycle allows, no more
            allowed = {current_status, *(m.to for m in OBJECTIVE.moves_from(current_status))}
            status = cast(forms.ChoiceField, self.fields["status"])
            status.choices = [(v, label) for v, label in Objective.Status.choices if v in allowed]


class TaskForm(forms.Form):
    title = line_field()
    description = prose_field(max_length=PROSE_LENGTH, required=False)
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Nobody in particular",
        help_text="A person, or:",
    )
    assigned_role = forms.ModelChoiceField(
        queryset=Role.objects.none(),
        required=False,
        empty_label="No role",
        label="Role",
        help_text="every holder of a role.",
    )
    due_date = DayField(required=False, widget=DateInput())
    status = forms.ChoiceField(choices=Task.Status.choices, initial=Task.Status.TODO)
    period = period_field()

    def __init__(self, *args: Any, task_force: TaskForce, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice(self, "assignee").queryset = current_holders(task_force)
        model_choice(self, "assigned_role").queryset = task_force.roles.all()
        model_choice(self, "assigned_role").label_from_instance = _role_name  # type: ignore[method-assign,assignment]  # a per-field label function, as Django reads it; the stubs allow only the method
        model_choice(self, "period").queryset = task_force.operational_periods.order_by("number")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("assignee") and data.get("assigned_role"):
            self.add_error("assigned_role", "Choose a person or a role, not both.")
        return data


class ObjectiveStatusForm(forms.Form):
    """A move on the objectives board: the status to move to (the service checks the
    lifecycle) and the board's query string, to show the same board again."""

    status = forms.ChoiceField(choices=Objective.Status.choices)
    board_query = line_field(max_length=500, required=False)


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Task.Status.choices)


class UpdateForm(forms.Form):
    kind = forms.ChoiceField(choices=Update.Kind.choices, initial=Update.Kind.UPDATE)
    title = line_field()
    body = prose_field(max_length=PROSE_LENGTH, rows=6)
    marking = marking_field()
    requires_acknowledgement = forms.BooleanField(
        required=False, label="Critical: require acknowledgement"
    )
    ack_roles = forms.ModelMultipleChoiceField(
        queryset=Role.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Roles that must acknowledge",
    )
    ack_agencies = forms.ModelMultipleChoiceField(
        queryset=Agency.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Agencies whose people must acknowledge",
        help_text="Name none to ask everyone who can see the update.",
    )

    def __init__(self, *args: Any, task_force: TaskForce, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["marking"].initial = task_force.marking
        model_choice(self, "ack_roles").queryset = task_force.roles.all()
        model_choice(self, "ack_roles").label_from_instance = _role_name  # type: ignore[method-assign,assignment]  # as above
        model_choice(self, "ack_agencies").queryset = participating_agencies(task_force)


class PeriodForm(forms.Form):
    """An operational period: the service checks numbers and overlaps against the others."""

    number = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100000,
        help_text="Leave empty for the next number.",
    )
    starts_at = PlanMomentField(widget=DateTimeInput(), label="Starts at")
    ends_at = PlanMomentField(widget=DateTimeInput(), label="Ends at")
    notes = prose_field(
        max_length=NOTES_LENGTH,
        rows=4,
        required=False,
        help_text="Briefing notes printed on the ICS 202 for this period.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "The period must end after it starts.")
        return data


class LogEntryForm(forms.Form):
    """A log entry written by hand on the timeline: what happened, when, and its marking."""

    kind = forms.ChoiceField(
        choices=[
            (TimelineEntry.Kind.LOG.value, "Log entry"),
            (TimelineEntry.Kind.DECISION.value, "Decision"),
        ],
        initial=TimelineEntry.Kind.LOG,
    )
    subject = line_field(required=False, label="About (optional)")
    text = prose_field(max_length=PROSE_LENGTH, rows=5, label="What happened")
    occurred_at = PlanMomentField(
        widget=DateTimeInput(),
        label="When it happened",
        required=False,
        help_text="Leave empty for now.",
    )
    marking = marking_field()
    significant = forms.BooleanField(required=False, label="Significant")

    def __init__(self, *args: Any, task_force: TaskForce, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["marking"].initial = task_force.marking


class HandoverBriefForm(forms.Form):
    """The outgoing holder's handover brief; "open tasks" comes prefilled from the data."""

    open_tasks = prose_field(
        max_length=PROSE_LENGTH,
        rows=6,
        required=False,
        label="Open tasks",
        help_text="Prefilled with the open tasks of you and your role; edit as needed.",
    )
    risks = prose_field(max_length=PROSE_LENGTH, rows=4, required=False, label="Risks")
    contacts = prose_field(max_length=PROSE_LENGTH, rows=3, required=False, label="Contacts")
    notes = prose_field(max_length=PROSE_LENGTH, rows=4, required=False, label="Other notes")
    marking = marking_field()

    def __init__(self, *args: Any, task_force: TaskForce, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["marking"].initial = task_force.marking
