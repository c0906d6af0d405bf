"""The embedded default for one machine: SQLite, in-process tasks, console e-mail."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-development-key-not-for-production")

# Serve static files from the apps' folders without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The embedded demo's logins work without an authenticator app; set
# CONCORD_REQUIRE_MFA=true to try the second factor locally.
CONCORD_REQUIRE_MFA = env.bool("CONCORD_REQUIRE_MFA", default=False)

# Tasks run in-process here; their per-task success lines would drown the console.
LOGGING = {
    **LOGGING,  # noqa: F405
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}
