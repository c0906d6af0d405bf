"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coordination.settings.production")

application = get_wsgi_application()

from coordination.web.memory import settle  # noqa: E402 - needs the settings loaded above

settle()
