"""Settings for the scale benchmarks (``manage.py benchmark_scale``, ``benchmark_load``) and
the gunicorn they start: production's behaviour (no debug, the same middleware, API and
permission core) with the development-only ``benchmarks`` app (the scale commands and a
scratch table), a URLconf that adds the bare views (``benchmarks.urls``), API limits
raised out of the way and no second-factor gate (the benchmark measures the app, not the
sign-in). Never used to serve people."""

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, REDIS_URL, REST_FRAMEWORK, env

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="benchmark-key-not-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks"]
ROOT_URLCONF = "benchmarks.urls"

# Force-logged-in clients and API tokens; the sign-in machinery is not what is measured.
CONCORD_REQUIRE_MFA = False
AXES_ENABLED = False

# The limits still run (their cache reads and writes are part of every API request's
# cost), but at rates a benchmark cannot reach.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"user": "100000000/hour", "token": "100000000/hour"},
}

# As in production: the cache (API limits) in Redis when there is one.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "coordination.db.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "concord-bench",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

# Static files from the apps' folders, so pages render without collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
