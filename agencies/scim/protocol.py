"""SCIM's wire format: the User resource as Concord writes it, reading one from a request
(create and replace), applying a PATCH, reading a filter, and the error body.

Only what Concord keeps is read; the attributes it does not keep (``externalId``,
``nickName``, phone numbers, ...) are accepted and not stored, as RFC 7643 §2.2 allows a
service provider that does not support them. Everything read is validated: a value of
the wrong type, a path Concord does not know or a filter it cannot answer is a 400 with
the SCIM ``scimType`` saying which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from rest_framework.request import Request

from coordination.models import User

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CONTENT_TYPE = "application/scim+json"


class ScimError(Exception):
    """A SCIM error answer: HTTP status, ``scimType`` (RFC 7644 §3.12) and detail."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def invalid(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(400, detail, scim_type)


def user_resource(user: User, *, active: bool, location: str) -> dict[str, Any]:
    """A person as a SCIM User. ``userName`` is their e-mail address, which is also their
    one (work, primary) e-mail; ``active`` is whether they are an active member of the
    token's agency with an active account."""
    formatted = user.get_full_name()
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(user.pk),
        "userName": user.email,
        "name": {"givenName": user.first_name, "familyName": user.last_name},
        "displayName": formatted or user.email,
        "emails": [{"value": user.email, "type": "work", "primary": True}],
        "active": active,
        "meta": {
            "resourceType": "User",
            "created": user.date_joined.isoformat(),
            "location": location,
        },
    }
    if formatted:
        resource["name"]["formatted"] = formatted
    if user.job_title:
        resource["title"] = user.job_title
    return resource


# --- reading a User from a request ---------------------------------------------------------


def _string(value: Any, attribute: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise invalid(f"{attribute} is required.")
        return None
    if not isinstance(value, str):
        raise invalid(f"{attribute} must be a string.")
    return value


def _boolean(value: Any, attribute: str) -> bool:
    # Entra ID sends "True"/"False" as strings in PATCH values
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(f"{attribute} must be true or false.")


def _email(value: str, attribute: str) -> str:
    value = value.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise invalid(
            f"{attribute} must be the person's e-mail address: Concord signs people in by it."
        ) from None
    return value


def _primary_email(emails: Any) -> str | None:
    """The address of ``emails`` Concord keeps: the primary one, else the work one, else
    the only one."""
    if emails is None:
        return None
    if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
        raise invalid("emails must be a list of objects with a value.")
    if not emails:
        return None
    chosen = (
        next((e for e in emails if e.get("primary") is True), None)
        or next((e for e in emails if e.get("type") == "work"), None)
        or (emails[0] if len(emails) == 1 else None)
    )
    if chosen is None:
        raise invalid("Mark one of emails as primary: Concord keeps one address per person.")
    value = _string(chosen.get("value"), "emails.value", required=True)
    return _email(str(value), "emails.value")


@dataclass
class UserFields:
    """What a request says about a person, as the services take it (None: not said)."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    active: bool | None = None

    def as_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _name_parts(name: Any) -> tuple[str | None, str | None]:
    if name is None:
        return None, None
    if not isinstance(name, dict):
        raise invalid("name must be an object.")
    return (
        _string(name.get("givenName"), "name.givenName"),
        _string(name.get("familyName"), "name.familyName"),
    )


def _merge_email(user_name: str | None, email: str | None) -> str | None:
    """userName and the primary e-mail are one attribute in Concord: both, if given, must
    agree."""
    if user_name is not None and email is not None and user_name != email:
        raise invalid(
            "userName and the primary e-mail must be the same address: Concord signs people "
            "in by their e-mail address."
        )
    return user_name or email


def read_user(data: Any, *, replacing: bool) -> UserFields:
    """A User from a create (POST) or replace (PUT) body. On replace, attributes left out
    are cleared where Concord may clear them (the job title); the name and the address
    are required either way."""
    if not isinstance(data, dict):
        raise invalid("The body must be a SCIM User object.", "invalidSyntax")
    schemas = data.get("schemas")
    if not isinstance(schemas, list) or USER_SCHEMA not in schemas:
        raise invalid(f"schemas must include {USER_SCHEMA}.", "invalidSyntax")
    user_name = _string(data.get("userName"), "userName", required=True)
    user_name = _email(str(user_name), "userName")
    email = _merge_email(user_name, _primary_email(data.get("emails")))
    given, family = _name_parts(data.get("name"))
    if not given or not family:
        raise invalid("name.givenName and name.familyName are required.")
    title = _string(data.get("title"), "title")
    active = data.get("active")
    return UserFields(
        email=email,
        first_name=given,
        last_name=family,
        job_title=title if title is not None else ("" if replacing else None),
        active=_boolean(active, "active") if active is not None else (True if replacing else None),
    )


# --- PATCH (RFC 7644 §3.5.2) ---------------------------------------------------------------

_EMAIL_PATH = re.compile(r'^emails\[type eq "work"\]\.value$', re.IGNORECASE)
# attributes accepted and not kept (RFC 7643 §2.2: a provider need not support them)
IGNORED = frozenset(
    {
        "externalid",
        "nickname",
        "displayname",
        "name.formatted",
        "name.middlename",
        "name.honorificprefix",
        "name.honorificsuffix",
        "preferredlanguage",
        "locale",
        "timezone",
        "usertype",
        "profileurl",
        "phonenumbers",
        "addresses",
    }
)


def _apply(fields: UserFields, path: str, value: Any, *, removing: bool) -> None:
    key = path.strip()
    lowered = key.lower()
    if lowered == "active":
        if removing:
            raise invalid("active cannot be removed.", "mutability")
        fields.active = _boolean(value, "active")
    elif lowered == "username":
        if removing:
            raise invalid("userName cannot be removed.", "mutability")
        fields.email = _email(str(_string(value, "userName", required=True)), "userName")
    elif lowered == "emails" or _EMAIL_PATH.match(key):
        if removing:
            raise invalid("The e-mail address cannot be removed.", "mutability")
        address = (
            _primary_email(value)
            if lowered == "emails"
            else _email(str(_string(value, "emails.value", required=True)), "emails.value")
        )
        if address is not None:
            fields.email = _merge_email(fields.email, address)
    elif lowered == "title":
        fields.job_title = "" if removing else _string(value, "title", required=True)
    elif lowered in ("name.givenname", "name.familyname"):
        if removing:
            raise invalid(f"{key} cannot be removed.", "mutability")
        text = _string(value, key, required=True)
        if lowered == "name.givenname":
            fields.first_name = text
        else:
            fields.last_name = text
    elif lowered == "name":
        if removing:
            raise invalid("name cannot be removed.", "mutability")
        given, family = _name_parts(value)
        fields.first_name = given if given is not None else fields.first_name
        fields.last_name = family if family is not None else fields.last_name
    elif lowered in IGNORED or lowered.startswith(("urn:", "phonenumbers", "addresses")):
        return
    else:
        raise invalid(f"Concord does not know the attribute {key!r}.", "invalidPath")


def read_patch(data: Any) -> UserFields:
    """The changes a PatchOp body asks for: ``add`` and ``replace`` set attributes (with a
    ``path``, or a ``value`` object naming them), ``remove`` clears what may be cleared.
    ``op`` is read without regard to case (Entra ID sends "Replace")."""
    if not isinstance(data, dict):
        raise invalid("The body must be a SCIM PatchOp object.", "invalidSyntax")
    schemas = data.get("schemas")
    if not isinstance(schemas, list) or PATCH_SCHEMA not in schemas:
        raise invalid(f"schemas must include {PATCH_SCHEMA}.", "invalidSyntax")
    operations = data.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise invalid("Operations must be a list of at least one operation.", "invalidSyntax")
    fields = UserFields()
    for operation in operations:
        if not isinstance(operation, dict):
            raise invalid("Each operation must be an object.", "invalidSyntax")
        op = operation.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise invalid("op must be add, replace or remove.", "invalidSyntax")
        removing = op.lower() == "remove"
        path = operation.get("path")
        value = operation.get("value")
        if path is None:
            if removing:
                raise invalid("A remove operation needs a path.", "noTarget")
            if not isinstance(value, dict):
                raise invalid("Without a path, value must be an object of attributes.")
            for key, item in value.items():
                _apply(fields, str(key), item, removing=False)
        elif isinstance(path, str):
            _apply(fields, path, value, removing=removing)
        else:
            raise invalid("path must be a string.", "invalidPath")
    return fields


# --- filters (RFC 7644 §3.4.2.2), the one identity providers send ---------------------------

_FILTER = re.compile(r'^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def read_filter(request: Request) -> str | None:
    """The address of ``filter=userName eq "..."`` (None without a filter). Any other
    filter is refused with ``invalidFilter``: answering it with everyone would be wrong."""
    text = request.query_params.get("filter")
    if text is None:
        return None
    match = _FILTER.match(text)
    if not match:
        raise invalid(
            'Concord answers one filter: userName eq "<e-mail address>".', "invalidFilter"
        )
    return match.group(1).replace('\\"', '"').replace("\\\\", "\\").strip().lower()


def read_paging(request: Request) -> tuple[int, int]:
    """``startIndex`` (1-based) and ``count`` (at most ``MAX_COUNT``)."""
    values = []
    for name, default in (("startIndex", 1), ("count", DEFAULT_COUNT)):
        raw = request.query_params.get(name)
        if raw is None:
            values.append(default)
            continue
        try:
            number = int(raw)
        except ValueError:
            raise invalid(f"{name} must be a whole number.") from None
        values.append(number)
    start, count = values
    return max(start, 1), min(max(count, 0), MAX_COUNT)


DEFAULT_COUNT = 100
MAX_COUNT = 200
