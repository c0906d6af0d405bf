"""Agencies' own identity providers (OpenID Connect, docs/identity.md).

An agency administrator (or a portal administrator onboarding the agency) registers the
agency's provider (``services``), tests it (``discovery``) and enables it; the sign-in page
routes people of its e-mail domains to it (``views.agency_sign_in``); and allauth's social
account adapter (``adapter``) keeps every provider inside its own agency.
"""
