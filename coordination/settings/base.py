"""Settings shared by every environment, read from the environment by one reader.

Every environment variable the project reads is named here or in ``production.py``
and documented in docs/configuration.md.
"""

import re
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # agencies' own identity providers (OpenID Connect; agencies/identity/, docs/identity.md)
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "axes",
    "csp",
    "coordination",
    "agencies",
    "taskforces",
    "mutualaid",
    # Django's own widget templates, for the form renderer below
    "django.forms",
]

MIDDLEWARE = [
    # First, so it sees every answer: errors under /api/ in the API's JSON shape.
    "coordination.api.errors.JsonErrorMiddleware",
    # Outside all but the first, so every commit of the request is inside it: the Celery
    # tasks its commits leave (a live change to relay, an event to dispatch) go in one
    # message when it ends, whatever else happened (coordination.after_commit).
    "coordination.after_commit.AfterCommitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The Content-Security-Policy header on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "coordination.accounts.signin.IdleTimeoutMiddleware",
    "coordination.accounts.signin.RequireMFAMiddleware",
    "coordination.audit.AuditContextMiddleware",
    # Pages show times in the reader's zone (their choice, else their agency's).
    "coordination.web.timezones.TimeZoneMiddleware",
    "coordination.web.pages.PermissionDeniedMiddleware",
    # What a request computed (a person's access) is remembered for that request only.
    "coordination.permissions.request_memory.RequestMemoryMiddleware",
    # After it, so the person's membership read here serves the rest of the request: a
    # person whose agency requires a passkey and who signed in without one is stopped.
    "coordination.accounts.signin.PhishingResistantMiddleware",
    # Last, as django-axes requires: turns a refused sign-in of a locked account into
    # the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "coordination.urls"
WSGI_APPLICATION = "coordination.wsgi.application"

# Forms' widgets are rendered with the project's templates, so the project's select
# (templates/django/forms/widgets/select.html) replaces Django's: the same HTML, without
# two templates rendered per option.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "coordination.web.context_processors.portal",
                "agencies.context_processors.membership",
            ],
            # GOV.UK Frontend helpers (status and priority tags, the one way to show time):
            # a builtin, so every template (e-mails too) has them; {% load concord_ui %} works.
            "libraries": {"concord_ui": "coordination.web.templatetags.concord_ui"},
            "builtins": ["coordination.web.templatetags.concord_ui"],
        },
    },
]

# The embedded default is a SQLite file beside manage.py; DATABASE_URL selects PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
# A kept connection may have been ended by the server meanwhile (a restart, a failover, an
# idle timeout): check it before its first use in each request and reconnect if it is dead.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "coordination.User"
# django-axes first, so a locked account is refused before any password is checked;
# allauth's backend signs people in by e-mail address (it is a ModelBackend, so it also
# answers model permissions); guardian answers per-object permissions.
# guardian's ObjectPermissionBackend is deliberately absent: guardian's tables hold the
# grants, but only the permission core (coordination.permissions) reads them, because only
# it also checks the assignment's dates, the agency's status and its participation. With
# the backend installed, user.has_perm(perm, task_force) could say yes where can() says no.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Sign-in -----------------------------------------------------------------------------
# Every person needs a second factor (TOTP with recovery codes) unless this is switched
# off; the embedded demo switches it off so its logins work without an authenticator app.
CONCORD_REQUIRE_MFA = env.bool("CONCORD_REQUIRE_MFA", default=True)
# A session ends after this many minutes without a request, and this many hours after
# signing in however active it is (coordination.accounts.signin.IdleTimeoutMiddleware).
CONCORD_SESSION_IDLE_MINUTES = env.int("CONCORD_SESSION_IDLE_MINUTES", default=30)
CONCORD_SESSION_MAX_HOURS = env.int("CONCORD_SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = CONCORD_SESSION_MAX_HOURS * 60 * 60
SESSION_SAVE_EVERY_REQUEST = False
# Django's database store, with the person's id in a column of its own so every session of
# one person can be ended at once (SCIM deactivation): coordination/accounts/sessions.py.
SESSION_ENGINE = "coordination.accounts.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# django-allauth: sign-in by e-mail address and password, password reset by e-mailed
# link, TOTP with recovery codes. Accounts are made by agency administrators, who vouch
# for their staff's addresses, so there is no public sign-up and no address verification.
ACCOUNT_ADAPTER = "coordination.accounts.signin.AccountAdapter"
# a password reset link works once, however many browsers submit it at the same moment
ACCOUNT_FORMS = {
    "reset_password_from_key": "coordination.accounts.signin.ResetPasswordOnceForm",
    # refuses a password sign-in where the person's agency signs its people in only
    # through its identity provider (agencies/identity/)
    "login": "agencies.identity.forms.LoginForm",
}
MFA_ADAPTER = "coordination.accounts.signin.MFAAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False  # the session cookie ends with the browser
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True  # sign in again, with the second factor
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False  # reset by link
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False  # never e-mail an address that has no account
ACCOUNT_EMAIL_NOTIFICATIONS = True  # tell people when their password or second factor changes
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Concord] "
# django-axes is the per-account lock (5 failures, 10 minutes). allauth's own limits sit
# above it: 10 failed sign-ins per e-mail address in 15 minutes (the same limit counts
# wrong authenticator codes per person), and per IP address only a brake on password
# spraying, high enough that one office behind one address is not locked out.
ACCOUNT_RATE_LIMITS = {
    "login": "60/m/ip",
    "login_failed": "30/m/ip,10/15m/key",
    "reset_password": "20/m/ip,3/5m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}
# Agencies' own identity providers (OpenID Connect, docs/identity.md). Each agency's provider
# is a SocialApp row made by agencies.identity.services (never in settings); the adapter
# keeps every identity provider inside its own agency: verified addresses of its domains
# only, accounts made or linked only in that agency, never a person moved between agencies.
SOCIALACCOUNT_ADAPTER = "agencies.identity.adapter.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True  # the adapter decides who gets an account, not a form
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"  # the IdP's email_verified claim is required instead
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # linking by address is the adapter's, per agency
SOCIALACCOUNT_STORE_TOKENS = False  # Concord calls no IdP API on a person's behalf
SOCIALACCOUNT_LOGIN_ON_GET = False  # a sign-in through an IdP starts with a POST (CSRF)
SOCIALACCOUNT_ONLY = False
# How long the discovery document fetch ("Test connection") and allauth's calls to an
# identity provider may take, in seconds.
CONCORD_IDP_TIMEOUT = env.int("CONCORD_IDP_TIMEOUT", default=10)
SOCIALACCOUNT_REQUESTS_TIMEOUT = CONCORD_IDP_TIMEOUT
# Issuers must be https://; plain http:// is accepted only for these hosts (a local test
# or demo identity provider). Production sets none.
CONCORD_IDP_INSECURE_HOSTS: list[str] = env.list(
    "CONCORD_IDP_INSECURE_HOSTS", default=["127.0.0.1", "localhost"]
)
# Test connection refuses an issuer whose host resolves to a private, loopback or
# link-local address (Concord must not be made to reach its own network), except these
# hosts (and the insecure ones above): a provider on a network the operators trust.
CONCORD_IDP_PRIVATE_HOSTS: list[str] = env.list("CONCORD_IDP_PRIVATE_HOSTS", default=[])
# WebAuthn: passkeys and security keys, as a second factor after the password or, for a
# passkey, as the whole sign-in ("Sign in with a passkey"). Agencies may require them
# (Agency.requires_phishing_resistant_mfa). allauth's WebAuthn script is a static file
# whose data travels in <script type="application/json"> blocks, which the strict CSP
# leaves alone (they are never run).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Concord"
MFA_RECOVERY_CODE_COUNT = 10

# django-axes: five failed sign-ins lock that account (not the IP address, so one office
# behind one address is not locked out together) for ten minutes. allauth passes the
# address as "email"; coordination.accounts.signin.axes_username reads it (and "username" or
# the form's "login" field) so every way in counts against the same, lower-cased name.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=10)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_FORM_FIELD = "login"
AXES_USERNAME_CALLABLE = "coordination.accounts.signin.axes_username"
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout are refused without extending it: the lock lasts ten minutes.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "coordination.accounts.signin.lockout_response"
# axes.W006 asks for "ip_address" among the lockout parameters. Deliberately not: locking
# by IP address would lock a whole office behind one address out together, and locking
# the (account, IP) pair would let an attacker dodge the lock by changing address. The
# per-account lock cannot be dodged by rotating addresses, user agents or cookies;
# allauth's per-IP limit above brakes password spraying.
# guardian.W001 asks for guardian's authentication backend; it is left out on purpose (see
# AUTHENTICATION_BACKENDS): only the permission core reads guardian's tables.
SILENCED_SYSTEM_CHECKS = ["axes.W006", "guardian.W001"]

# django-guardian: permissions are granted to role groups only, through the direct
# foreign-key tables declared in taskforces.models; no anonymous user row is needed.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# --- Browser security headers (every environment; production adds HTTPS, HSTS and secure
# cookies) ----------------------------------------------------------------------------------
# Content Security Policy: everything from this server only, and no inline script or style
# at all (no 'unsafe-inline', no 'unsafe-eval', no nonces): behaviour lives in static .js
# files, looks in concord.css. Images may also be data: URIs (the authenticator QR code).
# htmx is told not to inject its indicator <style> and not to eval (see base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Request size. Concord accepts no file uploads (no model has a file field, no view reads
# request.FILES), so a multipart request carrying any file is refused with 400, and so is
# a body over 1 MiB (far above the longest form or JSON body: an update's text) or with
# more than 1,000 fields.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 0

# The public agency application form (agencies:apply): submissions per client address,
# counted in Django's cache (coordination/web/ratelimit.py). "N/second", "N/minute", "N/hour"
# or "N/day"; more answer 429 with when to try again.
CONCORD_APPLY_RATE = env.str("CONCORD_APPLY_RATE", default="5/hour")
if not re.fullmatch(r"[1-9]\d*/(second|minute|hour|day)", CONCORD_APPLY_RATE):
    raise environ.ImproperlyConfigured(
        "CONCORD_APPLY_RATE must look like 5/hour: a whole number of at least 1, then "
        "/second, /minute, /hour or /day."
    )
# How many reverse proxies in front of Concord append to X-Forwarded-For. The client
# address the per-address limits count (allauth's and the application form's) is read
# from that header only when this is set; 0 uses the connection's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("CONCORD_TRUSTED_PROXY_COUNT", default=0)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "coordination" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# E-mail: the console in the embedded default; EMAIL_URL (smtp://user:pass@host:port)
# selects an SMTP server.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Every e-mail goes through the mail outbox (coordination/notifications/mail.py): Django's EMAIL_BACKEND
# queues it, and the outbox's worker sends it through the transport EMAIL_URL chose.
CONCORD_EMAIL_TRANSPORT = EMAIL_CONFIG["EMAIL_BACKEND"]
EMAIL_BACKEND = "coordination.notifications.mail.OutboxBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Concord <concord@localhost>")

# Celery: with REDIS_URL unset, tasks run in-process (eagerly) so one command starts
# the whole portal; with it set, Redis is the broker and workers do the work.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Redis redelivers an unacknowledged task after this many seconds; it must exceed the
# longest task's run time (see docs/operations.md).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    "expire-role-assignments": {
        "task": "taskforces.tasks.expire_role_assignments",
        "schedule": 60.0,
    },
    "resume-offboarding": {"task": "taskforces.tasks.resume_offboarding", "schedule": 60.0},
    # commitments not mobilised by the time their request needed them (each told once)
    "flag-overdue-mobilisation": {
        "task": "mutualaid.tasks.flag_overdue_mobilisation",
        "schedule": 300.0,
    },
}

# The REST API (coordination/api, agencies/api, taskforces/api; see docs/api.md,
# its first section). Systems authenticate with personal API tokens, the browser with its session.
# Limits: per person for session requests, per token for token requests.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "coordination.api.schema.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # the core's token authentication, with the owner's access read in the same
        # statement (taskforces/api/authentication.py)
        "taskforces.api.authentication.ApiTokenAuthentication",
        "coordination.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["coordination.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "coordination.api.filters.FilterBackend",
        "coordination.api.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "coordination.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "coordination.api.throttling.UserRateThrottle",
        "coordination.api.throttling.TokenRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("CONCORD_API_RATE_USER", default="1000/hour"),
        "token": env.str("CONCORD_API_RATE_TOKEN", default="5000/hour"),
    },
    "EXCEPTION_HANDLER": "coordination.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Concord API",
    "DESCRIPTION": (
        "Joint task force coordination between government agencies. Authenticate with a "
        "personal API token (`Authorization: Bearer <token>`, made on the portal's API "
        "tokens page). Every error has the shape "
        '`{"error": {"status", "code", "message", "fields"}}`; an object you may not see '
        "answers 404, exactly like one that does not exist."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE": False,
    # Several models have a "status" (or "kind", "role"); name each choice set.
    "ENUM_NAME_OVERRIDES": {
        "AgencyStatusEnum": "agencies.models.Agency.Status",
        "AgencyLevelEnum": "agencies.models.Agency.Level",
        "AgencySectorEnum": "agencies.models.Agency.Sector",
        "MembershipRoleEnum": "agencies.models.Membership.Role",
        "AgreementStatusEnum": "agencies.models.SharingAgreement.Status",
        "MarkingEnum": "coordination.permissions.markings.Marking",
        "TaskForceStatusEnum": "taskforces.models.TaskForce.Status",
        "ParticipationStatusEnum": "taskforces.models.Participation.Status",
        "CapabilityEnum": "taskforces.models.Capability",
        "ObjectiveStatusEnum": "taskforces.models.Objective.Status",
        "ObjectivePriorityEnum": "taskforces.models.Objective.Priority",
        "TaskStatusEnum": "taskforces.models.Task.Status",
        "UpdateKindEnum": "taskforces.models.Update.Kind",
        "AuditOutcomeEnum": "coordination.audit.models.AuditEvent.Outcome",
        "ResourceKindCategoryEnum": "mutualaid.models.ResourceKind.Category",
        "ResourceRequestStatusEnum": "mutualaid.models.ResourceRequest.Status",
        "ResourceRequestPriorityEnum": "mutualaid.models.ResourceRequest.Priority",
        "OfferStatusEnum": "mutualaid.models.Offer.Status",
        "CommitmentStatusEnum": "mutualaid.models.Commitment.Status",
    },
    # The documentation page's scripts come from drf-spectacular-sidecar's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No "valid" badge fetched from validator.swagger.io (it would send the schema's
    # address elsewhere, and the Content Security Policy refuses it anyway).
    # No deep links either: Swagger UI puts them as links inside each operation's toggle
    # button, which assistive technology cannot reach (axe: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}

# Notifications (see coordination/notifications/__init__.py and docs/notifications.md).
CONCORD_BASE_URL = env.str("CONCORD_BASE_URL", default="http://127.0.0.1:8000")
# A claimed e-mail not marked sent after this long is taken back and sent again.
CONCORD_NOTIFY_STALE_SECONDS = env.int("CONCORD_NOTIFY_STALE_SECONDS", default=300)
# The sweeper leaves events and e-mails younger than this to their own tasks.
CONCORD_NOTIFY_GRACE_SECONDS = env.int("CONCORD_NOTIFY_GRACE_SECONDS", default=60)
# Updates in one task force within this window reach a person as one e-mail.
CONCORD_NOTIFY_THROTTLE_MINUTES = env.int("CONCORD_NOTIFY_THROTTLE_MINUTES", default=10)
# Critical updates: remind who has not acknowledged, then tell their liaison officers.
CONCORD_ACK_REMIND_HOURS = env.int("CONCORD_ACK_REMIND_HOURS", default=4)
CONCORD_ACK_ESCALATE_HOURS = env.int("CONCORD_ACK_ESCALATE_HOURS", default=8)
CONCORD_DUE_SOON_DAYS = env.int("CONCORD_DUE_SOON_DAYS", default=2)
CONCORD_DIGEST_HOUR_UTC = env.int("CONCORD_DIGEST_HOUR_UTC", default=7)
# Access review: a role assignment not recertified by an agency administrator for this
# many days (since it started or was last recertified) is due for recertification.
CONCORD_RECERTIFY_DAYS = env.int("CONCORD_RECERTIFY_DAYS", default=90)
if CONCORD_RECERTIFY_DAYS < 1:
    raise environ.ImproperlyConfigured("CONCORD_RECERTIFY_DAYS must be a whole number, at least 1.")

# The statements run on almost every request (a person's access, an API token) are
# prepared once per PostgreSQL connection (coordination/db/__init__.py). Turn off behind a
# connection pooler in transaction mode (PgBouncer's default), which does not keep
# sessions, so a prepared statement would not be there on the next transaction.
CONCORD_DB_PREPARED_STATEMENTS = env.bool("CONCORD_DB_PREPARED_STATEMENTS", default=True)
# ...and planned once: left to choose, PostgreSQL plans a statement afresh on each run
# ("custom plans") whenever it guesses a generic plan might cost more, which for these
# statements (ids passed as arrays) is most runs, and planning is what preparing saves.
# A session setting, so it also applies to the triggers' statements (simple lookups).
# Not sent with the pooler (PgBouncer refuses unknown start-up parameters).
if CONCORD_DB_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"].endswith("postgresql"):
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c plan_cache_mode=force_generic_plan"

# Audit trail: events are kept at least this many days (CJIS: one year); the purge
# command removes only older ones. Less than 365 is refused.
CONCORD_AUDIT_RETENTION_DAYS = env.int("CONCORD_AUDIT_RETENTION_DAYS", default=365)
if CONCORD_AUDIT_RETENTION_DAYS < 365:
    raise environ.ImproperlyConfigured(
        "CONCORD_AUDIT_RETENTION_DAYS must be at least 365 (audit events are kept a year)."
    )
# How long an API Idempotency-Key is remembered (coordination/api/idempotency.py).
CONCORD_IDEMPOTENCY_KEY_HOURS = env.int("CONCORD_IDEMPOTENCY_KEY_HOURS", default=24)
if CONCORD_IDEMPOTENCY_KEY_HOURS < 1:
    raise environ.ImproperlyConfigured("CONCORD_IDEMPOTENCY_KEY_HOURS must be at least 1.")
# The most rows one CSV export of the audit trail may hold (narrow the filters for more).
CONCORD_AUDIT_EXPORT_MAX_ROWS = env.int("CONCORD_AUDIT_EXPORT_MAX_ROWS", default=100_000)

# Task names, not module paths: the core's tasks live in coordination/audit/tasks.py,
# coordination/notifications/tasks.py and coordination/api/tasks.py, each keeping the name
# "coordination.tasks.<function>" it had before, so queued work and this schedule find it.
CELERY_BEAT_SCHEDULE.update(
    {
        "seal-audit-chain": {"task": "coordination.tasks.seal_audit_chain", "schedule": 5.0},
        "verify-audit-chain": {
            "task": "coordination.tasks.verify_audit_chain",
            "schedule": crontab(hour=2, minute=15),
        },
        "purge-expired-audit-events": {
            "task": "coordination.tasks.purge_audit_events",
            "schedule": crontab(hour=3, minute=15),
        },
        "purge-expired-idempotency-keys": {
            "task": "coordination.tasks.purge_idempotency_keys",
            "schedule": crontab(minute=45),
        },
        "sweep-notification-outbox": {
            "task": "coordination.tasks.sweep_outbox",
            "schedule": 60.0,
        },
        "sweep-mail-outbox": {"task": "coordination.tasks.sweep_mail_outbox", "schedule": 60.0},
        "flush-held-emails": {"task": "coordination.tasks.flush_held_emails", "schedule": 60.0},
        "daily-digest": {
            "task": "coordination.tasks.send_daily_digests",
            "schedule": crontab(hour=CONCORD_DIGEST_HOUR_UTC, minute=0),
        },
        "deadline-and-expiry-reminders": {
            "task": "taskforces.tasks.send_reminders",
            "schedule": crontab(minute="*/15"),
        },
        "escalate-unacknowledged-updates": {
            "task": "taskforces.tasks.escalate_unacknowledged",
            "schedule": 300.0,
        },
        # daily, half an hour before the digest, so digest readers get it the same day
        "flag-unrecertified-assignments": {
            "task": "taskforces.tasks.flag_unrecertified_assignments",
            "schedule": crontab(hour=(CONCORD_DIGEST_HOUR_UTC - 1) % 24, minute=30),
        },
    }
)

# Live pages (coordination.live, docs/live.md): changes pushed to open pages through
# per-person Redis streams, read by Server-Sent Events under the ASGI server. Without a
# Redis (the embedded default) nothing is pushed and pages poll with conditional GET.
CONCORD_LIVE_REDIS_URL = env.str("CONCORD_LIVE_REDIS_URL", default=REDIS_URL)
CONCORD_LIVE_KEY_PREFIX = env.str("CONCORD_LIVE_KEY_PREFIX", default="concord:live")
# a person's stream keeps about this many entries, and lives this long after its last one
CONCORD_LIVE_STREAM_LENGTH = env.int("CONCORD_LIVE_STREAM_LENGTH", default=1000)
CONCORD_LIVE_KEEP_SECONDS = env.int("CONCORD_LIVE_KEEP_SECONDS", default=3600)
# the sweeper publishes changes left unpublished for this long (a lost task, Redis down)
CONCORD_LIVE_GRACE_SECONDS = env.float("CONCORD_LIVE_GRACE_SECONDS", default=2.0)
CONCORD_LIVE_SWEEP_SECONDS = env.float("CONCORD_LIVE_SWEEP_SECONDS", default=5.0)
# an open stream checks its session is still signed in this often, and ends after this
# long (the browser reconnects at once, through the whole sign-in policy, and resumes)
# an open stream sends a comment when nothing happened for this long (proxies close silent
# connections), and re-checks its session at most this late after RECHECK_SECONDS
CONCORD_LIVE_KEEPALIVE_SECONDS = env.float("CONCORD_LIVE_KEEPALIVE_SECONDS", default=15.0)
CONCORD_LIVE_RECHECK_SECONDS = env.float("CONCORD_LIVE_RECHECK_SECONDS", default=30.0)
CONCORD_LIVE_MAX_SECONDS = env.float("CONCORD_LIVE_MAX_SECONDS", default=600.0)
# open streams one web process serves at most (each holds one Redis connection)
CONCORD_LIVE_MAX_STREAMS = env.int("CONCORD_LIVE_MAX_STREAMS", default=5000)
# a page rendered now reads its stream from this many milliseconds before (clock margin)
CONCORD_LIVE_MARGIN_MS = env.int("CONCORD_LIVE_MARGIN_MS", default=2000)
# how often a page polls when push is unavailable (seconds)
CONCORD_LIVE_POLL_SECONDS = env.int("CONCORD_LIVE_POLL_SECONDS", default=5)
CELERY_BEAT_SCHEDULE["sweep-live-changes"] = {
    "task": "coordination.live.sweep",
    "schedule": CONCORD_LIVE_SWEEP_SECONDS,
}
