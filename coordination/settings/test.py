"""Settings for the test suite: fast hashing, in-memory e-mail, the same rules."""

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, INSTALLED_APPS, env

SECRET_KEY = "test-key-not-secret"  # noqa: S105
# The development-only benchmark app: tests/scale runs its commands (seed_scale, ...).
INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# E-mail goes through the outbox (Django's test set-up swaps EMAIL_BACKEND for locmem;
# tests/conftest.py puts the outbox back) and out into django.core.mail.outbox.
EMAIL_BACKEND = "coordination.notifications.mail.OutboxBackend"
CONCORD_EMAIL_TRANSPORT = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run tasks in-process unless a test starts a real worker itself (those tests
# switch this off and use a private Redis broker of their own).
CELERY_TASK_ALWAYS_EAGER = True

# Switches for the worker subprocesses that tests/notifications/test_real_worker.py starts
# with these settings: tasks through a private Redis, e-mails written to files the test
# reads back. The test process itself never sets them.
CELERY_TASK_ALWAYS_EAGER = env.bool("CONCORD_TASKS_EAGER", default=CELERY_TASK_ALWAYS_EAGER)
CELERY_BROKER_URL = env.str("CONCORD_TEST_BROKER_URL", default=CELERY_BROKER_URL)
_email_dir = env.str("CONCORD_TEST_EMAIL_DIR", default="")
if _email_dir:
    CONCORD_EMAIL_TRANSPORT = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = _email_dir

# Query counts in the tests do not depend on which test first used a connection;
# tests/coordination/test_prepared_statements.py switches preparing on and checks it.
CONCORD_DB_PREPARED_STATEMENTS = False

# Serve static files from the apps' folders without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Most tests sign in with force_login or client.login, which neither have a second factor
# nor pass a request (django-axes refuses those). The sign-in tests switch both on.
CONCORD_REQUIRE_MFA = False
AXES_ENABLED = False

# Tests send the public application form far more often than a person would, all from
# 127.0.0.1; the rate-limit tests (tests/security/test_rate_limits.py) set their own rate.
CONCORD_APPLY_RATE = "10000/hour"

# Live pages push only in the tests that switch them on (tests/live), with a key prefix
# of their own; the rest of the suite writes no change rows even with REDIS_URL set.
CONCORD_LIVE_REDIS_URL = env.str("CONCORD_LIVE_REDIS_URL", default="")

# On SQLite the test database is a file, not Django's default shared in-memory database:
# the browser tests' live server answers a page's requests in threads at once (a page, the
# scripts it calls), and shared memory refuses a second writer at once ("table is locked")
# where a file waits its turn (write-ahead log, a busy timeout).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".test-db.sqlite3")}  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {}).update(  # noqa: F405
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"}
    )
