"""SCIM 2.0 (RFC 7643, RFC 7644) at ``/scim/v2/``: an agency's identity provider creates,
updates and deactivates that agency's people, and only theirs.

A small implementation of the parts identity providers use (Entra ID, Okta, Keycloak):
``Users`` (list with ``filter=userName eq "..."``, get, create, replace, patch, delete =
deactivate) and the discovery resources (``ServiceProviderConfig``, ``ResourceTypes``,
``Schemas``). Requests carry a bearer token issued to one agency (``agencies.ScimToken``);
what it reaches is ``agencies.selectors.provisioned_people``. Writes go through the
agencies services, audited as done by the agency's SCIM client. docs/identity-scim-passkeys.md
says how an identity provider connects.
"""
