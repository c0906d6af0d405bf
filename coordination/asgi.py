"""ASGI entry point for uvicorn: the whole portal, and the live pages' event streams
(``coordination.live.views.stream``), which hold a connection open per page without a
database connection each.

    uvicorn coordination.asgi:application --workers 3 --host 0.0.0.0 --port 8000
"""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coordination.settings.production")

application = get_asgi_application()

# Under ASGI each request's synchronous work runs in a thread of its own, so a database
# connection kept for the next request (CONN_MAX_AGE) would be left behind with its
# thread: close each at the end of its request, as Django's documentation advises.
for database in settings.DATABASES.values():
    database["CONN_MAX_AGE"] = 0

from coordination.web.memory import settle  # noqa: E402 - needs the settings loaded above

settle()
