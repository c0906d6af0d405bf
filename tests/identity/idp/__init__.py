"""A real OpenID Connect provider for the identity tests, in its own process.

A tiny separate Django project (its own settings, database and URLs, nothing of Concord's)
around django-oauth-toolkit's OpenID Connect provider, with an RS256 key generated when it
starts. ``python -m tests.identity.idp.serve`` runs it; ``tests/identity/conftest.py``
starts it on a free port and registers clients and people through its test-only endpoints;
``make idp`` starts one for the demo agency (see docs/identity.md).
"""
