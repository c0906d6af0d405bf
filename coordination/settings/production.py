"""Production: everything secret or site-specific must come from the environment.

``REQUIRED_ENVIRONMENT`` lists the variables without a default here; the
docker-compose test checks that the web, worker and beat services set each one.
"""

from .base import *  # noqa: F403
from .base import env

REQUIRED_ENVIRONMENT = (
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
)

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # as in base.py: a dead one is replaced
REDIS_URL = env.str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = False
EMAIL_CONFIG = env.email_url("EMAIL_URL")
vars().update(EMAIL_CONFIG)
CONCORD_EMAIL_TRANSPORT = EMAIL_CONFIG["EMAIL_BACKEND"]  # sent by the outbox's worker
EMAIL_BACKEND = "coordination.notifications.mail.OutboxBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
# base.py sets the rest for every environment: the Content Security Policy,
# X-Frame-Options DENY, nosniff, Referrer-Policy and Cross-Origin-Opener-Policy.

# Sign-in limits (allauth's rate limits) and the used-TOTP-code guard live in the cache:
# every web process must share it, so production keeps it in Redis. While Redis is down
# the cache answers as an empty one and logs a warning, so requests are still served with
# their limits uncounted (coordination/db/cache.py); the timeouts (seconds) keep an
# unreachable Redis from holding each request up.
CACHES = {
    "default": {
        "BACKEND": "coordination.db.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "concord",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

# Agencies' identity providers are reached over https:// only in production (base allows
# http:// for a local test or demo provider on this machine).
CONCORD_IDP_INSECURE_HOSTS = env.list("CONCORD_IDP_INSECURE_HOSTS", default=[])
