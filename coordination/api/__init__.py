"""Concord's REST API: the shared pieces (authentication, errors, pagination, throttling,
filters, the schema) and the core's own resources (my notifications, audit events).

The apps' resources live in ``agencies.api`` and ``taskforces.api``; ``urls.py`` here puts
them all under ``/api/v1/``.
"""
