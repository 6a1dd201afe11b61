"""Settings of the peer: django-helpdesk 2.6.1 as a production site would run it.

Only what helpdesk needs, tuned like Sutong's own production settings so that the two are
compared on equal terms: DEBUG off (so cached template loaders), persistent database
connections, no debug tooling, quiet logging. bench/peer.py sets the environment.
"""

import os

import dj_database_url

DEBUG = False
# The benchmark's own key for a throwaway database; nothing outside this machine sees it.
SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "bench-peer-not-a-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# helpdesk's own list of required apps, without pinax-teams (teams mode is switched off
# below, so the "teams" extra is not installed) and without static files (never served
# in the benchmark).
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]

# Django's default stack, the same one Sutong runs (less its static-file and locale
# middleware, which helpdesk does not ask for).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "urls"
WSGI_APPLICATION = "wsgi.application"
SITE_ID = 1
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/login/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# The same server as Sutong, and the same connection policy: kept open for 60 s and
# checked before reuse.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("PEER_DATABASE_URL", "postgres://postgres@127.0.0.1/sutong_bench_peer"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}

# Sutong only writes an outbox row during the request and sends later, so the peer
# should not pay for SMTP either; it still renders its e-mails, which is its real work.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

REST_FRAMEWORK = {
    # A token is one indexed lookup per request; basic auth would hash a password on
    # every request, which no real API client of helpdesk need pay.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
}

# helpdesk: no pinax-teams; the public form and the API both on (the API is on by
# default in 2.6, said here so that nobody wonders).
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_SUBMIT_A_TICKET_PUBLIC = True
HELPDESK_API_ENABLED = True

USE_TZ = True
TIME_ZONE = "UTC"

MEDIA_ROOT = os.environ.get("PEER_MEDIA_ROOT", "/tmp/sutong-bench-peer-media")  # noqa: S108
STATIC_URL = "/static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
