"""The SCIM endpoints. Each view: authenticate the agency's token, read and validate the
request (``protocol``), reach people only through ``provisioned_people`` of the token's
agency (anyone else is "not found", like an id that names nothing), call a service,
answer in ``application/scim+json``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.urls import reverse
from rest_framework import exceptions, renderers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coordination.api.parsers import JSONParser
from coordination.models import User
from coordination.permissions import PermissionDenied

from .. import services
from ..models import Membership, ScimToken
from ..selectors import provisioned_people
from . import protocol
from .authentication import HasScimToken, ScimTokenAuthentication
from .protocol import CONTENT_TYPE, ScimError


class ScimRenderer(renderers.JSONRenderer):
    media_type = CONTENT_TYPE
    format = "scim"


class ScimParser(JSONParser):
    media_type = CONTENT_TYPE


def _error_response(error: ScimError) -> Response:
    return Response(error.body(), status=error.status, content_type=CONTENT_TYPE)


# how SCIM names the fields of Concord's validation errors
SCIM_NAMES = {
    "email": "userName",
    "first_name": "name.givenName",
    "last_name": "name.familyName",
    "job_title": "title",
}


def _validation_error(error: ValidationError) -> ScimError:
    if hasattr(error, "error_dict"):
        messages = [
            f"{SCIM_NAMES.get(field, field)}: {message}"
            for field, errors in error.message_dict.items()
            for message in errors
        ]
        unique = any(e.code == "unique" for e in error.error_dict.get("userName", []))
        return ScimError(
            409 if unique else 400, " ".join(messages), "uniqueness" if unique else "invalidValue"
        )
    return ScimError(400, " ".join(error.messages), "invalidValue")


class ScimView(APIView):
    """What every SCIM endpoint shares: the token, the media types, SCIM error bodies."""

    authentication_classes = [ScimTokenAuthentication]
    permission_classes = [HasScimToken]
    renderer_classes = [ScimRenderer]
    parser_classes = [ScimParser, JSONParser]
    throttle_classes: list[Any] = []
    schema = None  # not part of Concord's own API schema: SCIM describes itself (/Schemas)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ScimError):
            return _error_response(exc)
        if isinstance(exc, ValidationError):
            return _error_response(_validation_error(exc))
        if isinstance(exc, PermissionDenied):
            return _error_response(ScimError(403, str(exc)))
        if isinstance(exc, (Http404, User.DoesNotExist)):
            return _error_response(ScimError(404, "No such resource."))
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response = _error_response(ScimError(401, str(exc.detail)))
            response["WWW-Authenticate"] = 'Bearer realm="scim"'
            return response
        if isinstance(exc, exceptions.PermissionDenied):
            return _error_response(ScimError(403, str(exc.detail)))
        if isinstance(exc, exceptions.ParseError):
            return _error_response(ScimError(400, str(exc.detail), "invalidSyntax"))
        if isinstance(exc, exceptions.UnsupportedMediaType):
            return _error_response(ScimError(415, str(exc.detail)))
        if isinstance(exc, exceptions.MethodNotAllowed):
            return _error_response(ScimError(405, str(exc.detail)))
        if isinstance(exc, exceptions.NotAcceptable):
            return _error_response(ScimError(406, str(exc.detail)))
        return super().handle_exception(exc)

    @property
    def token(self) -> ScimToken:
        auth = self.request.auth
        if not isinstance(auth, ScimToken):  # HasScimToken lets only these in
            raise exceptions.NotAuthenticated()
        return auth

    def people(self) -> QuerySet[User]:
        """The token's agency's people, each with whether they are its active member."""
        agency_id = self.token.agency_id
        return provisioned_people(self.token.agency).annotate(
            member_here=Exists(
                Membership.objects.filter(
                    user_id=OuterRef("pk"), agency_id=agency_id, is_active=True
                )
            )
        )

    def resource(self, user: User) -> dict[str, Any]:
        member_here = getattr(user, "member_here", None)
        if member_here is None:
            member_here = Membership.objects.filter(
                user=user, agency_id=self.token.agency_id, is_active=True
            ).exists()
        location = self.request.build_absolute_uri(reverse("scim:user", args=[user.pk]))
        return protocol.user_resource(
            user, active=user.is_active and member_here, location=location
        )

    def person(self, pk: str) -> User:
        try:
            user_id = int(pk)
        except ValueError:
            raise ScimError(404, "No such resource.") from None
        return self.people().get(pk=user_id)

    def body(self, request: Request) -> Any:
        return request.data


class Users(ScimView):
    """``/Users``: list (filtered by userName, paged) and create."""

    def get(self, request: Request) -> Response:
        address = protocol.read_filter(request)
        start, count = protocol.read_paging(request)
        people = self.people().order_by("pk")
        if address is not None:
            people = people.filter(email__iexact=address)
        total = people.count()
        page = list(people[start - 1 : start - 1 + count]) if count else []
        return Response(
            {
                "schemas": [protocol.LIST_SCHEMA],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(page),
                "Resources": [self.resource(user) for user in page],
            }
        )

    def post(self, request: Request) -> Response:
        fields = protocol.read_user(self.body(request), replacing=False)
        user = services.scim_create_person(
            token=self.token,
            email=str(fields.email),
            first_name=str(fields.first_name),
            last_name=str(fields.last_name),
            job_title=fields.job_title or "",
            active=fields.active is not False,
        )
        resource = self.resource(self.person(str(user.pk)))
        response = Response(resource, status=201)
        response["Location"] = resource["meta"]["location"]
        return response


class UserDetail(ScimView):
    """``/Users/<id>``: get, replace (PUT), patch, delete (deactivate, then "not found")."""

    def get(self, request: Request, pk: str) -> Response:
        return Response(self.resource(self.person(pk)))

    def put(self, request: Request, pk: str) -> Response:
        user = self.person(pk)
        fields = protocol.read_user(self.body(request), replacing=True)
        services.scim_update_person(token=self.token, user=user, **fields.as_kwargs())
        return Response(self.resource(self.person(pk)))

    def patch(self, request: Request, pk: str) -> Response:
        user = self.person(pk)
        fields = protocol.read_patch(self.body(request))
        services.scim_update_person(token=self.token, user=user, **fields.as_kwargs())
        return Response(self.resource(self.person(pk)))

    def delete(self, request: Request, pk: str) -> Response:
        user = self.person(pk)
        services.scim_delete_person(token=self.token, user=user)
        return Response(status=204)


# --- discovery (RFC 7644 §4) ---------------------------------------------------------------

RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def _attribute(
    name: str,
    *,
    required: bool = False,
    mutability: str = "readWrite",
    type_: str = "string",
    uniqueness: str = "none",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "multiValued": False,
        "required": required,
        "caseExact": False,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
        **extra,
    }


USER_SCHEMA_DEFINITION: dict[str, Any] = {
    "schemas": [SCHEMA_SCHEMA],
    "id": protocol.USER_SCHEMA,
    "name": "User",
    "description": "A person of the token's agency. userName is their e-mail address.",
    "attributes": [
        _attribute("userName", required=True, uniqueness="server"),
        {
            **_attribute("name", required=True, type_="complex"),
            "subAttributes": [
                _attribute("givenName", required=True),
                _attribute("familyName", required=True),
                _attribute("formatted", mutability="readOnly"),
            ],
        },
        _attribute("displayName", mutability="readOnly"),
        _attribute("title"),
        _attribute("active", type_="boolean"),
        {
            **_attribute("emails", type_="complex"),
            "multiValued": True,
            "subAttributes": [
                _attribute("value"),
                _attribute("type"),
                _attribute("primary", type_="boolean"),
            ],
        },
    ],
    "meta": {"resourceType": "Schema", "location": ""},
}


class ServiceProviderConfig(ScimView):
    def get(self, request: Request) -> Response:
        return Response(
            {
                "schemas": [SPC_SCHEMA],
                "documentationUri": request.build_absolute_uri("/"),
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": protocol.MAX_COUNT},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": False},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Bearer token",
                        "description": "A token issued to the agency on its SCIM page in "
                        "Concord: Authorization: Bearer <token>.",
                        "primary": True,
                    }
                ],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": request.build_absolute_uri(),
                },
            }
        )


class ResourceTypes(ScimView):
    def get(self, request: Request, name: str | None = None) -> Response:
        user_type = {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "schema": protocol.USER_SCHEMA,
            "meta": {
                "resourceType": "ResourceType",
                "location": request.build_absolute_uri(
                    reverse("scim:resource-type", args=["User"])
                ),
            },
        }
        if name is not None:
            if name != "User":
                raise ScimError(404, "No such resource type.")
            return Response(user_type)
        return Response(
            {
                "schemas": [protocol.LIST_SCHEMA],
                "totalResults": 1,
                "startIndex": 1,
                "itemsPerPage": 1,
                "Resources": [user_type],
            }
        )


class Schemas(ScimView):
    def get(self, request: Request, schema_id: str | None = None) -> Response:
        definition = {
            **USER_SCHEMA_DEFINITION,
            "meta": {
                "resourceType": "Schema",
                "location": request.build_absolute_uri(
                    reverse("scim:schema", args=[protocol.USER_SCHEMA])
                ),
            },
        }
        if schema_id is not None:
            if schema_id != protocol.USER_SCHEMA:
                raise ScimError(404, "No such schema.")
            return Response(definition)
        return Response(
            {
                "schemas": [protocol.LIST_SCHEMA],
                "totalResults": 1,
                "startIndex": 1,
                "itemsPerPage": 1,
                "Resources": [definition],
            }
        )
