"""Settings of the test identity provider (never Concord's). Its database, key and people
file live in the directory named by ``IDP_HOME``, made fresh by ``serve``."""

from __future__ import annotations

import os
from pathlib import Path

HOME = Path(os.environ["IDP_HOME"])
SECRET_KEY = os.environ["IDP_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.identity.idp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": HOME / "idp.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
# a different cookie name from Concord's: both run on 127.0.0.1, and cookies ignore ports
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"
LOGIN_URL = "/login/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": (HOME / "key.pem").read_text(),
    "OAUTH2_VALIDATOR_CLASS": "tests.identity.idp.validator.Validator",
    "SCOPES": {"openid": "OpenID Connect", "profile": "Your name", "email": "Your address"},
    "PKCE_REQUIRED": True,
    # OpenID Connect RP-Initiated Logout (end_session_endpoint): Concord's sign-out sends
    # people here; without an id_token_hint the provider asks them to confirm
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # local http:// only: this provider never leaves the machine
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http"],
    "ALLOWED_SCHEMES": ["http"],
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
