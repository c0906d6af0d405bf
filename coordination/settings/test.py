"""Settings for the test suite: fast hashing, in-memory e-mail, the same rules."""

from .base import *  # noqa: F403

SECRET_KEY = "test-key-not-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run tasks in-process unless a test starts a real worker itself (those tests
# switch this off and use the Redis broker that REDIS_URL names).
CELERY_TASK_ALWAYS_EAGER = True

# Serve static files from the apps' folders without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Most tests sign in with force_login or client.login, which neither have a second factor
# nor pass a request (django-axes refuses those). The sign-in tests switch both on.
CONCORD_REQUIRE_MFA = False
AXES_ENABLED = False
