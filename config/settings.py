"""Sutong settings: one module, every knob from the environment.

With no variable set, Sutong runs on its embedded default: SQLite (WAL mode) and a
filesystem Celery broker, both under ``var/``. ``DATABASE_URL`` and ``REDIS_URL`` switch it
to PostgreSQL and Redis. ``DEBUG`` is off unless asked for, and with it off the security
settings below pass ``manage.py check --deploy``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if not value:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int) -> int:
    value = env(name)
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Where things live ------------------------------------------------------------------

# Everything the embedded default writes (database, broker queue, uploads, mail, keys)
# goes under one folder, so a demo can be reset by deleting it.
VAR_DIR = Path(env("VAR_DIR") or BASE_DIR / "var").resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", default=False)


def _secret_key() -> str:
    if key := env("SECRET_KEY"):
        return key
    # No key given: keep a generated one under var/, so sessions survive a restart of
    # the embedded default. Production sets SECRET_KEY explicitly.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # Written aside and moved into place in one step, so a process starting at the
        # same moment never reads a half-written key; the first one to move wins.
        spare = VAR_DIR / f".secret_key.{os.getpid()}"
        spare.touch(mode=0o600)
        spare.write_text(secrets.token_urlsafe(50))
        try:
            os.link(spare, path)
        except FileExistsError:
            pass
        finally:
            spare.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "accounts",
    "routing",
    "complaints",
    "intake",
    "reporting",
    "ops",
    "notifications",
    "sla",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise (static files keep their own headers), before the rest, so they see
    # every other response header: a CSP with a per-request nonce (ops.csp), and
    # "Cache-Control: private, no-store" on every page that sets no caching of its own
    # (ops.caching) — pages show personal data.
    "ops.csp.ContentSecurityPolicyMiddleware",
    "ops.caching.PrivateByDefaultMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Oversized bodies refused by their Content-Length, answered in the visitor's language,
    # before CSRF's check (or anything else) reads the body.
    "config.limits.RequestSizeLimit",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context.unread",
                # {{ csp_nonce }}, for the rare inline script or style (ops.csp).
                "ops.csp.nonce",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------

DATABASE_URL = env("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES: dict[str, dict[str, Any]] = {
    "default": dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web, the worker and beat read while one of them writes; IMMEDIATE
        # takes the write lock when a transaction starts, so two writers queue instead of
        # failing half-way ("database is locked") — SQLite's stand-in for row locks.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# A read replica for reports (optional): the /reports/ pages and exports read from it
# (reporting.replica), everything else from the primary. It lags by seconds, so reports
# may be a few seconds behind. In tests it is the test database itself.
REPORTS_DATABASE_URL = env("REPORTS_DATABASE_URL")
if REPORTS_DATABASE_URL:
    DATABASES["replica"] = dict(
        dj_database_url.parse(REPORTS_DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    )
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["replica"].update(CONN_MAX_AGE=0, OPTIONS={"timeout": 20})
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["reporting.replica.ReportsRouter"]

# --- Cache ------------------------------------------------------------------------------

REDIS_URL = env("REDIS_URL")
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that is down or unreachable must cost a request seconds, not the
            # operating system's minutes-long TCP timeout: the rate limits fail open
            # (intake.ratelimit) and intake goes on without the cache.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
        if REDIS_URL
        # Shared by every process of the embedded default (web, worker, beat).
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # Rate-limit counters live here too: the default cap (300) would evict them
            # under a guessing run, resetting the count.
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    )
}

# --- Celery -----------------------------------------------------------------------------
# Read by config/celery.py (namespace CELERY_). The beat schedule lives there, in code.

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = (
    {"visibility_timeout": 3600, "socket_connect_timeout": 3, "socket_timeout": 5}
    if REDIS_URL
    else {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # Kombu looks for new files once a second by default, which limits the embedded
        # default to about one task a second; a directory listing every 0.1 s costs nothing.
        "polling_interval": 0.1,
    }
)
if not REDIS_URL:
    for folder in ("queue", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task is acknowledged only when it has finished, and put back when its worker dies,
# so a crash delays work instead of losing it; tasks must therefore be idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULER = "ops.beat:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 15
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Seconds between heartbeats, and the age after which /healthz calls one stale.
HEARTBEAT_INTERVAL = env_int("HEARTBEAT_INTERVAL", 15)
HEARTBEAT_STALE_AFTER = env_int("HEARTBEAT_STALE_AFTER", 4 * HEARTBEAT_INTERVAL)

# --- E-mail -----------------------------------------------------------------------------

EMAIL_HOST = env("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=EMAIL_PORT == 465)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Sutong <noreply@localhost>")
SERVER_EMAIL = env("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Without an SMTP host, outgoing mail is written to var/mail/ where a demo can read it.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")

# --- E-mail intake (IMAP polling; off while INTAKE_IMAP_HOST is empty) ---------------

INTAKE_IMAP_HOST = env("INTAKE_IMAP_HOST")
INTAKE_IMAP_PORT = env_int("INTAKE_IMAP_PORT", 0)  # 0: 993 for ssl, else 143
INTAKE_IMAP_USER = env("INTAKE_IMAP_USER")
INTAKE_IMAP_PASSWORD = env("INTAKE_IMAP_PASSWORD")
INTAKE_IMAP_FOLDER = env("INTAKE_IMAP_FOLDER", "INBOX")
INTAKE_IMAP_SECURITY = env("INTAKE_IMAP_SECURITY", "ssl")  # ssl | starttls | none
INTAKE_IMAP_PROCESSED_FOLDER = env("INTAKE_IMAP_PROCESSED_FOLDER")  # empty: delete after intake
INTAKE_IMAP_POLL_INTERVAL = env_int("INTAKE_IMAP_POLL_INTERVAL", 60)
# Seconds a poll holds the mailbox's lock at most: a poller that crashed keeps others out
# this long (at least 60). Then seconds to wait for the server, and messages per poll.
INTAKE_IMAP_LOCK_SECONDS = env_int("INTAKE_IMAP_LOCK_SECONDS", 900)
INTAKE_IMAP_TIMEOUT = env_int("INTAKE_IMAP_TIMEOUT", 30)
INTAKE_IMAP_BATCH = env_int("INTAKE_IMAP_BATCH", 100)

# --- Routing ---------------------------------------------------------------------------

# Above this confidence a complaint is classified without a dispatcher.
ROUTING_AUTO_CLASSIFY_THRESHOLD = float(env("ROUTING_AUTO_CLASSIFY_THRESHOLD", "0.8"))
# The model's urgency grade is applied on its own only at this probability; below it, a
# complaint the model would raise waits for a dispatcher to check its urgency.
ROUTING_URGENCY_SURE = float(env("ROUTING_URGENCY_SURE", "0.6"))
# How much matched keyword rules add to the model's probabilities.
ROUTING_RULE_BOOST = float(env("ROUTING_RULE_BOOST", "0.3"))
# How often each process checks whether keyword rules or the model changed.
KEYWORD_RECHECK_SECONDS = env_int("KEYWORD_RECHECK_SECONDS", 10)
CLASSIFIER_RECHECK_SECONDS = env_int("CLASSIFIER_RECHECK_SECONDS", 30)
# Repeated petitions: similar text (character-bigram cosine, 0..1) within this many days.
DUPLICATE_WINDOW_DAYS = env_int("DUPLICATE_WINDOW_DAYS", 30)
DUPLICATE_SIMILARITY = float(env("DUPLICATE_SIMILARITY", "0.4"))
# Seconds between sweeps for complaints whose routing task was lost.
ROUTING_SWEEP_INTERVAL = env_int("ROUTING_SWEEP_INTERVAL", 300)
# Age (seconds) at which a complaint still unrouted counts as lost by that sweep: its task
# was never queued (a broker outage) or died. Younger ones may still be in the queue.
ROUTING_STRANDED_AFTER = env_int("ROUTING_STRANDED_AFTER", 300)

# --- Time limits (SLA) -----------------------------------------------------------------

# How often beat sweeps for due warnings and escalations (DESIGN: every 30–60 s).
SLA_SWEEP_INTERVAL = env_int("SLA_SWEEP_INTERVAL", 30)
# Deadlines one sweep transaction claims at a time.
SLA_SWEEP_BATCH = env_int("SLA_SWEEP_BATCH", 1000)
# Channels of each kind of message (email, sms, in_app); emergencies go out on all three.
SLA_WARNING_CHANNELS = env_list("SLA_WARNING_CHANNELS", "in_app,email")
SLA_ESCALATION_CHANNELS = env_list("SLA_ESCALATION_CHANNELS", "in_app,email")
SLA_EMERGENCY_CHANNELS = env_list("SLA_EMERGENCY_CHANNELS", "in_app,email,sms")
# /healthz fails this many days before a year the business calendar does not know.
SLA_CALENDAR_HORIZON_DAYS = env_int("SLA_CALENDAR_HORIZON_DAYS", 45)

# --- Closing the loop -------------------------------------------------------------------

# Days a satisfaction survey waits for an answer before the complaint closes as "no response".
SURVEY_WINDOW_DAYS = env_int("SURVEY_WINDOW_DAYS", 7)
# Days after closing (or rejection, merge, withdrawal) before a complaint is archived.
ARCHIVE_AFTER_DAYS = env_int("ARCHIVE_AFTER_DAYS", 30)
# Days after closing before personal data is anonymised (3 years); statistics stay.
RETENTION_DAYS = env_int("RETENTION_DAYS", 3 * 365)
# How often beat closes unanswered surveys, archives and anonymises (seconds).
LIFECYCLE_SWEEP_INTERVAL = env_int("LIFECYCLE_SWEEP_INTERVAL", 15 * 60)
# Categories whose replies always need approval, besides urgent, critical and sensitive
# ones, are configured in the back-office (approval rules).

# --- Reports ----------------------------------------------------------------------------

# How often beat recomputes the rollups of days whose complaints changed (seconds).
REPORTING_ROLLUP_INTERVAL = env_int("REPORTING_ROLLUP_INTERVAL", 300)
# Days the nightly rebuild recomputes whatever their marks: the safety net.
REPORTING_REBUILD_DAYS = env_int("REPORTING_REBUILD_DAYS", 60)
# A process marks a day dirty at most this often (seconds): at peak intake every complaint
# of the day would otherwise update the same row. A recompute keeps marks younger than
# this, so a change that skipped its mark is still picked up by the next run.
REPORTING_MARK_EVERY = env_int("REPORTING_MARK_EVERY", 5)
# Exports of up to this many rows download at once; larger ones are built by a worker.
EXPORT_SYNC_LIMIT = env_int("EXPORT_SYNC_LIMIT", 5000)
# Days an export's file is kept for its owner to download before it is deleted.
EXPORT_KEEP_DAYS = env_int("EXPORT_KEEP_DAYS", 7)
# Per cent of last month's closed complaints drawn for the monthly sampling audit.
AUDIT_SAMPLE_PERCENT = env_int("AUDIT_SAMPLE_PERCENT", 10)

# --- Hotspots and early warning (预警) ----------------------------------------------------
# reporting.hotspots: the rule is in reporting/hotspots/spikes.py. A category, keyword or
# area spikes when its count in the last 24 hours (or 7 days) is at least HOTSPOT_MIN_COUNT
# and would be reached by chance with probability under HOTSPOT_P_VALUE, given the mean of
# the same-length windows in the HOTSPOT_BASELINE_DAYS before (Poisson).

# How often beat looks for spikes and tells the supervisors (seconds; once a day per spike).
HOTSPOT_CHECK_INTERVAL = env_int("HOTSPOT_CHECK_INTERVAL", 60 * 60)
HOTSPOT_BASELINE_DAYS = env_int("HOTSPOT_BASELINE_DAYS", 28)
HOTSPOT_P_VALUE = float(env("HOTSPOT_P_VALUE", "0.01"))
HOTSPOT_MIN_COUNT = env_int("HOTSPOT_MIN_COUNT", 5)
# Complaints with coordinates but no written location are grouped in cells this big (°).
HOTSPOT_GRID_DEGREES = float(env("HOTSPOT_GRID_DEGREES", "0.01"))
HOTSPOT_ALERT_CHANNELS = env_list("HOTSPOT_ALERT_CHANNELS", "in_app,email")
# Repeat petitioners: this many complaints or more from one person within this many days.
HOTSPOT_REPEAT_MIN = env_int("HOTSPOT_REPEAT_MIN", 3)
HOTSPOT_REPEAT_DAYS = env_int("HOTSPOT_REPEAT_DAYS", 30)
# Clusters of similar complaints in the last days: how alike (0..1), how many make one, and
# how many of the newest complaints are compared at most.
HOTSPOT_CLUSTER_DAYS = env_int("HOTSPOT_CLUSTER_DAYS", 7)
HOTSPOT_CLUSTER_SIMILARITY = float(env("HOTSPOT_CLUSTER_SIMILARITY", "0.5"))
HOTSPOT_CLUSTER_MIN_SIZE = env_int("HOTSPOT_CLUSTER_MIN_SIZE", 3)
HOTSPOT_CLUSTER_LIMIT = env_int("HOTSPOT_CLUSTER_LIMIT", 2000)

# --- Public statistics -------------------------------------------------------------------

# /statistics/: anonymised counts for everyone. Off: the page is a 404 and has no link.
PUBLIC_STATISTICS = env_bool("PUBLIC_STATISTICS", default=True)
# Any figure built on fewer complaints than this reads "fewer than N".
PUBLIC_STATISTICS_MIN_COUNT = env_int("PUBLIC_STATISTICS_MIN_COUNT", 5)
PUBLIC_STATISTICS_CACHE_SECONDS = env_int("PUBLIC_STATISTICS_CACHE_SECONDS", 10 * 60)

# --- Language and time ------------------------------------------------------------------

LANGUAGE_CODE = env("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Files ------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT") or VAR_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded attachments are never served as static files: they go out through a view
# that checks permissions (and MEDIA_URL is deliberately not routed).
MEDIA_ROOT = Path(env("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"
# Media (attachments, exports) on this machine's disk, or with MEDIA_STORAGE=s3 in an
# S3-compatible bucket (AWS, MinIO, Ceph, OSS, COS…; pip install ".[s3]"), which every web
# and worker node shares. The bucket stays private: objects get no ACL, and files still
# leave only through Sutong's permission-checked views, never by a bucket URL.
MEDIA_STORAGE = env("MEDIA_STORAGE", "file")
if MEDIA_STORAGE not in {"file", "s3"}:
    raise ImproperlyConfigured(f"MEDIA_STORAGE={MEDIA_STORAGE!r}: use file or s3")
MEDIA_BACKEND: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if MEDIA_STORAGE == "s3":
    if not env("AWS_STORAGE_BUCKET_NAME"):
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    MEDIA_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            # Empty: AWS itself. MinIO and others: their address, e.g. http://minio:9000.
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env("AWS_S3_REGION_NAME") or None,
            # Empty: boto3's own chain (AWS_ACCESS_KEY_ID… in the environment, an
            # instance or pod role).
            "access_key": env("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY") or None,
            # "path" for most S3-compatible servers; empty lets boto3 choose.
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE") or None,
            "signature_version": "s3v4",
            # A key prefix, so one bucket can hold several installations.
            "location": env("AWS_LOCATION"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            # Downloads larger than this go through a temporary file, not memory.
            "max_memory_size": 5 * 1024 * 1024,
        },
    }
# Infected attachments are moved out of the media storage into this one (never served:
# no view opens a quarantined file). On disk: QUARANTINE_ROOT, outside MEDIA_ROOT and
# readable by the service's user only; on S3: the same bucket under "quarantine/".
QUARANTINE_ROOT = Path(env("QUARANTINE_ROOT") or VAR_DIR / "quarantine")
QUARANTINE_BACKEND: dict[str, Any] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {
        "location": str(QUARANTINE_ROOT),
        "file_permissions_mode": 0o600,
        "directory_permissions_mode": 0o700,
    },
}
if MEDIA_STORAGE == "s3":
    QUARANTINE_BACKEND = {
        **MEDIA_BACKEND,
        "OPTIONS": {
            **MEDIA_BACKEND["OPTIONS"],
            "location": "/".join(p for p in (env("AWS_LOCATION"), "quarantine") if p),
        },
    }
STORAGES = {
    "default": MEDIA_BACKEND,
    "quarantine": QUARANTINE_BACKEND,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Attachments: per file, and how many one submission may carry.
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_MB", 20) * 1024 * 1024
ATTACHMENT_MAX_COUNT = env_int("ATTACHMENT_MAX_COUNT", 10)
# Bodies read into memory (forms, JSON with base64 files); multipart files stream to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = ATTACHMENT_MAX_BYTES * 2
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A whole request body: every file at its limit plus the form's fields. A larger declared
# Content-Length is answered 413 before a byte is read (config.limits), and a body that
# runs past it (chunked, or lying about its length) is cut off while streaming.
REQUEST_MAX_BYTES = env_int(
    "REQUEST_MAX_MB", (ATTACHMENT_MAX_BYTES * ATTACHMENT_MAX_COUNT) // (1024 * 1024) + 10
) * (1024 * 1024)
# Fields and files in one request: thousands of multipart parts are a 400, not work.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = ATTACHMENT_MAX_COUNT * 2
# Malware scanning by ClamAV's daemon (Debian's clamav-daemon): its unix socket
# (/run/clamav/clamd.ctl) or tcp://host:port. Empty: files are kept "not scanned", and the
# console says so. Scans run in the worker after commit; beat retries files still pending.
CLAMAV_SOCKET = env("CLAMAV_SOCKET")
# Seconds one scan may wait on clamd before it counts as unreachable (and is retried).
CLAMAV_TIMEOUT = env_int("CLAMAV_TIMEOUT", 30)
CLAMAV_SWEEP_INTERVAL = env_int("CLAMAV_SWEEP_INTERVAL", 300)

# --- Documents (printed reply letters, personal data exports) ---------------------------

# The sender on letters and exports; empty: "Sutong complaint office" in the letter's language.
ORGANISATION_NAME = env("ORGANISATION_NAME")
# A TrueType font with Chinese glyphs (.ttf or .ttc with TrueType outlines). Empty: the
# first of the usual Debian fonts that is installed, else reportlab's built-in STSong-Light.
PDF_FONT_PATH = env("PDF_FONT_PATH")

# --- Security ---------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    # Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1 so Django trusts its
    # X-Forwarded-Proto header. SECURE_SSL_REDIRECT=0 only for a plain-HTTP trial.
    if env_bool("SECURE_PROXY_SSL_HEADER"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # /healthz is probed over plain HTTP by load balancers and orchestrators.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
    CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# The tracking page's alarm (intake.lookup): when TRACKING_ALERT_FAILURES failed or
# refused look-ups come from one address, or hit one code, within
# TRACKING_ALERT_WINDOW_MINUTES, the audit log gets tracking.enumeration_suspected and
# the supervisors (else administrators) a message on TRACKING_ALERT_CHANNELS, once per
# window. A person who mistyped gives up long before; 0 turns the alarm off.
TRACKING_ALERT_FAILURES = env_int("TRACKING_ALERT_FAILURES", 50)
TRACKING_ALERT_WINDOW_MINUTES = env_int("TRACKING_ALERT_WINDOW_MINUTES", 60)
TRACKING_ALERT_CHANNELS = env_list("TRACKING_ALERT_CHANNELS", "in_app,email")

# --- REST framework ---------------------------------------------------------------------

REST_FRAMEWORK = {
    # A token in the Authorization header first: it decides the 401's WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.TokenAuthentication",
        "api.auth.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.ReadOnlyTokens",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.PerCaller"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Cursor",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}
# Calls per minute, per caller; 0 turns the limit off. A channel client may have its own.
API_RATE_CLIENT = env_int("API_RATE_CLIENT", 120)
API_RATE_STAFF = env_int("API_RATE_STAFF", 600)
API_RATE_ANONYMOUS = env_int("API_RATE_ANONYMOUS", 60)
# Invalid tokens one address may present per window (seconds) before its token attempts
# are answered 429 until the window ends (api.auth); 0 turns this off.
API_TOKEN_FAILURES = env_int("API_TOKEN_FAILURES", 50)
API_TOKEN_FAILURE_WINDOW = env_int("API_TOKEN_FAILURE_WINDOW", 600)
# A personal access token lives at most this many days (a longer expiry is refused).
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)

# The OpenAPI schema (/api/v1/schema/) and its interactive docs (/api/v1/docs/), served
# from vendored files (drf-spectacular-sidecar): they work without the internet.
SPECTACULAR_SETTINGS = {
    "TITLE": "Sutong API",
    "DESCRIPTION": (
        "Complaints through their whole lifecycle, for channel systems and staff scripts. "
        "Authenticate with `Authorization: Token <token>`. Errors share one format: "
        "`{code, message, errors: [{field, code, message}]}`."
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Ids in paths (api.converters.Id): integers, at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}
    },
    "ENUM_NAME_OVERRIDES": {
        "ComplaintChannel": "complaints.models.Complaint.Channel",
        "StaffChannel": "intake.forms.RegisterForm.STAFF_CHANNELS",
    },
    # In the order a newcomer reads them.
    "TAGS": [
        {"name": "meta", "description": "Where the parts of the API are."},
        {"name": "complaints", "description": "Staff: list, read and register complaints."},
        {
            "name": "complaint actions",
            "description": "Staff: every state change, as `POST …/{action}/`. A change the "
            "state does not allow answers 409 with `allowed_actions`.",
        },
        {
            "name": "complaint work",
            "description": "Staff: timeline, notes, files, the reply and its approval, the "
            "survey, co-handling and extensions.",
        },
        {"name": "intake", "description": "Channels: submit a complaint (scope `intake`)."},
        {
            "name": "submissions",
            "description": "Channels: the complaints a client submitted (scopes `read_own`, "
            "`act_own`).",
        },
        {"name": "webhooks", "description": "Subscriptions to complaint events, signed."},
        {"name": "reference", "description": "Who is calling; categories and departments."},
        {"name": "petitioners", "description": "Staff: petitioner look-up, masked."},
        {"name": "reporting", "description": "Staff: the key figures of the reports."},
        {
            "name": "tokens",
            "description": "Your personal access tokens (from a logged-in session only).",
        },
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
        # Unknown body fields are refused (400 unknown_field): the schema says so.
        "api.schema.close_request_bodies",
    ],
}

# --- Logging ----------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Every handler masks secrets and personal data first (ops.logfilter): tokens,
    # private tracking links, passwords, phone and ID numbers, e-mail addresses.
    "filters": {"redact": {"()": "ops.logfilter.RedactFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's own handlers (a console one under DEBUG, runserver's, mail_admins) would
        # print django.request's paths unmasked; its records go to the handlers above.
        "django": {"handlers": [], "level": "NOTSET", "propagate": True},
    },
}

# --- Notifications ----------------------------------------------------------------------
# The outbox (notifications app): messages to staff and petitioners by e-mail, SMS and in
# the console. A delivery task is queued after each commit that stores one; beat also runs
# it every NOTIFY_SWEEP_INTERVAL seconds, so a broker outage delays messages, never loses
# them. A failed attempt is retried after NOTIFY_RETRY_DELAY seconds, four times longer
# each time (at most an hour), until NOTIFY_MAX_ATTEMPTS; then the row is "failed" in the
# back-office, where it can be retried.
NOTIFY_SWEEP_INTERVAL = env_int("NOTIFY_SWEEP_INTERVAL", 15)
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 6)
NOTIFY_RETRY_DELAY = env_int("NOTIFY_RETRY_DELAY", 30)
# Text messages: a gateway over HTTP when its URL is set (POST {"to", "text"} as JSON,
# with the token as a bearer token), else one JSON line per message in SMS_FILE_PATH.
SMS_GATEWAY_URL = env("SMS_GATEWAY_URL")
SMS_GATEWAY_TOKEN = env("SMS_GATEWAY_TOKEN")
SMS_BACKEND = env(
    "SMS_BACKEND",
    "notifications.sms.HttpGatewayBackend" if SMS_GATEWAY_URL else "notifications.sms.FileBackend",
)
SMS_FILE_PATH = Path(env("SMS_FILE_PATH") or VAR_DIR / "sms" / "outbox.jsonl")
# Where people reach this site: links in e-mail and SMS are made absolute with it.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

# --- Webhooks ---------------------------------------------------------------------------
# Integrations subscribe to complaint events (notifications.webhooks); each delivery is an
# outbox row, retried like any message above. Targets must be public https:// addresses:
# WEBHOOK_ALLOW_HTTP also permits http:// (default: only with DEBUG), and
# WEBHOOK_ALLOWED_HOSTS names internal hosts, addresses or networks (CIDR) that may
# receive webhooks all the same. Seconds to wait for a receiver's answer: WEBHOOK_TIMEOUT.
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10)
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", default=DEBUG)
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS")

# --- Login ------------------------------------------------------------------------------
# Argon2 hashes new passwords. The older hashers stay listed so existing PBKDF2 hashes
# still verify, and Django rewrites each as Argon2 at that user's next successful login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Every password check (console, back-office, API) goes through the lockout in
# accounts.lockout: LOGIN_MAX_FAILURES failed logins for one username within
# LOGIN_LOCKOUT_MINUTES lock it for that long, and LOGIN_IP_MAX_FAILURES from one client
# address lock that address, whatever usernames it tries. Failures are counted in the
# database, so every web process sees the same ones.
AUTHENTICATION_BACKENDS = ["accounts.backends.LockoutBackend"]
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_IP_MAX_FAILURES = env_int("LOGIN_IP_MAX_FAILURES", 20)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
# Behind a reverse proxy every request seems to come from the proxy, and one address
# would lock everyone out. Name the request.META key that carries the client's address:
# HTTP_X_REAL_IP, or HTTP_X_FORWARDED_FOR (its last entry, the one your proxy appended).
# Empty: REMOTE_ADDR. The tracking page's rate limits, the API's throttling and the
# audit log take the client's address from the same place (accounts.lockout.client_ip).
LOGIN_CLIENT_IP_HEADER = env("LOGIN_CLIENT_IP_HEADER")
