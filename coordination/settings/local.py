"""The embedded default for one machine: SQLite, in-process tasks, console e-mail."""

from .base import *  # noqa: F403
from .base import env

# `make run` shows the portal's own 400/403/404/500 pages, as people will see them;
# DJANGO_DEBUG=1 brings Django's debug pages back for a developer who wants them.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-key-not-for-production")

# Serve static files from the apps' folders without collectstatic, DEBUG on or off
# (WhiteNoise serves them; plain storage needs no manifest, which collectstatic writes).
WHITENOISE_USE_FINDERS = True
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True

# The embedded demo's logins work without an authenticator app; set
# CONCORD_REQUIRE_MFA=true to try the second factor locally.
CONCORD_REQUIRE_MFA = env.bool("CONCORD_REQUIRE_MFA", default=False)

# Tasks run in-process here; their per-task success lines would drown the console.
LOGGING = {
    **LOGGING,  # noqa: F405
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}
