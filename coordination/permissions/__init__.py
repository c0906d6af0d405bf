"""The permission core: one place answers, for pages, API, exports, search and notifications,

* ``can(user, action, obj)`` — may this person do this to this object;
* ``Model.objects.restrict(user, action)`` — which objects of this kind they may (one query
  whatever the size of the data, plus, for policies built on what is kept about the person,
  one read of the epoch that says it is still true: ``taskforces.access``);
* ``explain(user, action, obj)`` — why, as steps a person can read.

Each app registers a :class:`Policy` per model (in its ``permissions.py``); the core holds
the machinery and depends on no app. Beside it: ``markings`` (the TLP sensitivity markings)
and ``request_memory`` (what one request may remember until it writes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import EmptyResultSet
from django.db import models

M = TypeVar("M", bound=models.Model)
UserLike = Any  # a User or AnonymousUser


class PermissionDenied(Exception):
    """Raised by services when the acting person may not do what they asked."""

    def __init__(self, explanation: Explanation | str, *, obj: models.Model | None = None) -> None:
        self.explanation = explanation
        self.obj = obj  # the object refused, when known (for the audit trail)
        super().__init__(str(explanation))


@dataclass(frozen=True)
class Step:
    """One link in the chain that grants or denies: a sentence and whether it holds."""

    text: str
    holds: bool


@dataclass
class Explanation:
    """The answer to "why can (or can't) this person do this?"."""

    allowed: bool
    action: str
    steps: list[Step] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.allowed

    def __str__(self) -> str:
        verdict = "Allowed" if self.allowed else "Not allowed"
        return f"{verdict}: " + " ".join(step.text for step in self.steps)

    @property
    def reason(self) -> str:
        """The first step that does not hold (why not), or the last one that does (why)."""
        failing = [step for step in self.steps if not step.holds]
        if failing:
            return failing[0].text
        return self.steps[-1].text if self.steps else ""


class Policy(Generic[M]):
    """How one model answers the three questions. Subclasses implement both methods."""

    actions: tuple[str, ...] = ()

    def restrict(
        self, queryset: models.QuerySet[M], user: UserLike, action: str
    ) -> models.QuerySet[M]:
        raise NotImplementedError

    def explain(self, user: UserLike, action: str, obj: M) -> Explanation:
        raise NotImplementedError

    def restrict_within(
        self, queryset: models.QuerySet[M], user: UserLike, action: str, within: models.Model
    ) -> models.QuerySet[M]:
        """``restrict`` for the objects inside ``within`` only (e.g. one task force's
        items): the same answer as ``restrict`` narrowed to ``within``, written for that
        one container, so a page about one task force does not carry the conditions of
        every other one the person sees. Policies whose objects live in containers
        implement it; the tests check it against ``restrict`` for every persona."""
        raise LookupError(f"{type(self).__name__} does not restrict within one object.")

    def decides(self, user: UserLike, action: str, obj: M) -> bool | None:
        """``can``'s answer without a query, when the policy can give it from what the
        request has already read (the person's access) and the object's unchangeable
        fields; ``None`` to ask the database. Must agree with ``restrict``, which the
        tests check for every persona, object and action."""
        return None

    def check_action(self, action: str) -> None:
        if action not in self.actions:
            raise ValueError(f"Unknown action {action!r}; expected one of {self.actions}.")


_policies: dict[type[models.Model], Policy[Any]] = {}


def register(model: type[M]) -> Callable[[type[Policy[M]]], type[Policy[M]]]:
    """Class decorator: ``@register(TaskForce) class TaskForcePolicy(Policy): ...``."""

    def decorator(policy_class: type[Policy[M]]) -> type[Policy[M]]:
        _policies[model] = policy_class()
        return policy_class

    return decorator


def policy_for(model: type[models.Model]) -> Policy[Any]:
    try:
        return _policies[model]
    except KeyError:
        raise LookupError(f"No permission policy is registered for {model.__name__}.") from None


def is_signed_in(user: UserLike) -> bool:
    return user is not None and not isinstance(user, AnonymousUser) and user.is_active


def restrict(
    queryset: models.QuerySet[M],
    user: UserLike,
    action: str,
    *,
    within: models.Model | None = None,
) -> models.QuerySet[M]:
    """The objects of ``queryset`` that ``user`` may ``action``; nothing for anonymous users.
    With ``within``, only those inside that object (``Policy.restrict_within``)."""
    policy = policy_for(queryset.model)
    policy.check_action(action)
    if not is_signed_in(user):
        return queryset.none()
    if within is not None:
        return policy.restrict_within(queryset, user, action, within)
    return policy.restrict(queryset, user, action)


def can(user: UserLike, action: str, obj: models.Model) -> bool:
    """May ``user`` do ``action`` to ``obj``? The same answer ``restrict`` gives, for one object."""
    model = type(obj)
    policy = policy_for(model)
    policy.check_action(action)
    if is_signed_in(user):
        answer = policy.decides(user, action, obj)
        if answer is not None:
            return answer
    return restrict(model._default_manager.filter(pk=obj.pk), user, action).exists()


def explain(user: UserLike, action: str, obj: models.Model) -> Explanation:
    """The chain that grants or denies ``action`` on ``obj`` to ``user``, in words."""
    policy = policy_for(type(obj))
    policy.check_action(action)
    if not is_signed_in(user):
        return Explanation(False, action, [Step("You are not signed in.", False)])
    return policy.explain(user, action, obj)


def require(user: UserLike, action: str, obj: models.Model) -> None:
    """Raise :class:`PermissionDenied` (with the explanation) unless ``user`` may."""
    if not can(user, action, obj):
        raise PermissionDenied(explain(user, action, obj), obj=obj)


class RestrictedQuerySet(models.QuerySet[M]):
    """A queryset that knows how to keep only what a person may see or do."""

    def restrict(
        self, user: UserLike, action: str = "view", *, within: models.Model | None = None
    ) -> RestrictedQuerySet[M]:
        return restrict(self, user, action, within=within)  # type: ignore[return-value]


def one_of(count: int | None = None) -> str:
    """ "Is one of these ids" in SQL written once: one array parameter on PostgreSQL
    (``count`` None: any number of ids, so one prepared text serves everyone), else
    ``count`` parameters."""
    return "= ANY(%s::bigint[])" if count is None else f"IN ({', '.join(['%s'] * count)})"


def one_of_values(values: Sequence[int], *, postgresql: bool) -> tuple[int | None, Sequence[Any]]:
    """The ``count`` that ``one_of`` takes for ``values`` and the parameters its SQL reads:
    on PostgreSQL no count and the ids as one array, elsewhere their count and one
    parameter each."""
    ids = list(values)
    return (None, (ids,)) if postgresql else (len(ids), ids)


class TableCondition(models.Expression):
    """A condition written once in SQL on a table's alias (``condition``), as a filter on a
    queryset of that table: the alias is the queryset's own, and ``postgresql`` says which
    form to write (``one_of``, with ``one_of_values`` for its parameters)."""

    conditional = True
    output_field = models.BooleanField()

    def condition(self, alias: str, *, postgresql: bool) -> tuple[str, Sequence[Any]]:
        raise NotImplementedError

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        alias = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        return self.condition(alias, postgresql=connection.vendor == "postgresql")


class InList(models.Expression):
    """``field IN (ids)`` as a filter, for the person's own ids (their task forces, their
    roles: up to hundreds), which on PostgreSQL is written ``field = ANY(%s)`` with the
    ids as one array parameter: one placeholder instead of hundreds, so the SQL is built,
    sent and parsed in a fraction of the time, and the planner still reads the rows
    through the field's index. No ids: no row, and no query at all (as ``__in=[]``)."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, field: str, ids: Iterable[int]) -> None:
        super().__init__()
        self.lhs: Any = models.F(field)
        self.ids = [int(i) for i in ids]

    def get_source_expressions(self) -> list[Any]:
        return [self.lhs]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.lhs,) = exprs

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        if not self.ids:
            raise EmptyResultSet
        field_sql, field_params = compiler.compile(self.lhs)
        marks = ", ".join(["%s"] * len(self.ids))
        return f"{field_sql} IN ({marks})", (*field_params, *self.ids)

    def as_postgresql(self, compiler: Any, connection: Any) -> Any:
        if not self.ids:
            raise EmptyResultSet
        field_sql, field_params = compiler.compile(self.lhs)
        # an array literal ('{1,2,3}'), not a list (which psycopg sends as ARRAY[1,2,3]):
        # a constant, which PostgreSQL turns into a hash table to look each row up in
        array = "{" + ",".join(map(str, self.ids)) + "}"
        return f"{field_sql} = ANY(%s::bigint[])", (*field_params, array)
