"""Django settings for Sealbox.

Every value comes from a SEALBOX_* environment variable (see the README's
table), optionally filled in from the env file named by SEALBOX_ENV_FILE.
There is nothing to edit here for a deployment.
"""

from __future__ import annotations

import os
import socket
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from sealbox.config import ConfigError, Env, load_env_file, read_secret_key

ENV_FILE = load_env_file(os.environ)
env = Env(os.environ)

BASE_DIR = Path(__file__).resolve().parent

# --- Data directory and database -------------------------------------------
# Created (0700) by `sealbox migrate` or `serve`, never by importing this
# module: other commands refuse a data directory that is not set up (datadir.py).
DATA_DIR: Path = env.path("DATA_DIR", "./var") or Path("var").absolute()

_db_url = env.secret("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'sealbox.sqlite3'}"
try:
    _db = dj_database_url.parse(_db_url, conn_max_age=60, conn_health_checks=True)
except ValueError as e:
    raise ConfigError(f"SEALBOX_DATABASE_URL: {e}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        # Writers queue up instead of failing at once; IMMEDIATE avoids the
        # lock-upgrade deadlock between two deferred transactions.
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    }
    _db.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test.sqlite3")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Core --------------------------------------------------------------------
DEBUG = env.bool("DEBUG", False)
# Empty until `sealbox migrate` or `serve` generates it into the data directory.
SECRET_KEY = env.secret("SECRET_KEY") or read_secret_key(DATA_DIR)
# --- Branding (sealbox/branding.py; docs/branding.md) -------------------------
# The portal's own name; empty: "Secure mailbox", in the reader's language.
SITE_NAME = env.str("SITE_NAME", "")
# The organisation that runs the portal, as its recipients know it.
ORG_NAME = env.str("ORG_NAME", "")
ORG_LOGO = env.path("ORG_LOGO")
# "#rrggbb", or "#light,#dark" for a separate colour in dark mode.
BRAND_COLOR = env.str("BRAND_COLOR", "")
# Comma-separated: email addresses, phone numbers and web addresses (split at
# commas only: a phone number has spaces).
SUPPORT_CONTACT = [i.strip() for i in env.str("SUPPORT_CONTACT", "").split(",") if i.strip()]
PRIVACY_URL = env.str("PRIVACY_URL", "")
IMPRINT_URL = env.str("IMPRINT_URL", "")
# Searched before the built-in templates, for any page or email.
TEMPLATES_DIR = env.path("TEMPLATES_DIR")
# localhost rather than 127.0.0.1: passkeys need a host name, never an IP address.
BASE_URL = env.str("BASE_URL", "http://localhost:8000").rstrip("/")
_base = urlsplit(BASE_URL)
if _base.scheme not in ("http", "https") or not _base.hostname:
    raise ConfigError(f"SEALBOX_BASE_URL: expected http(s)://host[:port], got {BASE_URL!r}")
BASE_HOST = _base.hostname
HTTPS = _base.scheme == "https"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS") or [BASE_HOST, "127.0.0.1", "localhost", "[::1]"]
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]
HTTP_LISTEN = env.str("HTTP_LISTEN", "127.0.0.1:8000")
WEB_WORKERS = env.int("WEB_WORKERS", 2, minimum=1)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "sealbox.accounts",
    "sealbox.mailstore",
    "sealbox.intake",
    "sealbox.outbound",
    "sealbox.service",
    "sealbox.portal",
    "sealbox.vault",
    "sealbox.housekeeping",
    "sealbox.operator",
    # Django's admin with the operators' site (sealbox/operator/site.py); after
    # the project's apps, so that their templates come first.
    "sealbox.operator.adminconfig.OperatorAdminConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "sealbox.web.brandfiles.BrandFilesMiddleware",
    # Before sessions: a request it refuses never touches one (web/fetchmeta.py).
    "sealbox.web.fetchmeta.FetchMetadataMiddleware",
    "sealbox.vault.middleware.LockedMiddleware",
    "sealbox.portal.busy.BusyMiddleware",
    "sealbox.web.fulldisk.FullDiskMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "sealbox.portal.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # In place of Django's LocaleMiddleware: the account's saved language first.
    "sealbox.accounts.languages.LanguageMiddleware",
    "sealbox.portal.uploads.RequestSizeMiddleware",
    "sealbox.accounts.middleware.SessionLimitsMiddleware",
    "sealbox.accounts.middleware.RequireTwoFactorMiddleware",
    "sealbox.accounts.middleware.DeviceCookieMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "sealbox.web.headers.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "sealbox.urls"
WSGI_APPLICATION = "sealbox.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [TEMPLATES_DIR] if TEMPLATES_DIR else [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sealbox.web.context.site",
            ],
        },
    },
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "display_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "signin"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "signin"

# The languages the portal and its emails speak: adding one is a catalogue in
# sealbox/locale/<code>/ and a line here. Names are each language's own.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("nl", "Nederlands"),
    ("fr", "Français"),
    ("es", "Español"),
    ("ar", "العربية"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_CODE = env.str("LANGUAGE", "en")
# Recipient domain -> language, "de:de,at:de,nl:nl": a recipient who chose no
# language gets the one for the last label of their address's domain
# (example.at), or for the whole domain (example.co.uk).
LANGUAGE_BY_DOMAIN = env.str("LANGUAGE_BY_DOMAIN", "")
# The language menu's choice on this browser (accounts/languages.set_cookie).
LANGUAGE_COOKIE_NAME = "sealbox_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = None
# Static files are served from the installed package: no collectstatic step.
WHITENOISE_USE_FINDERS = True

# Process-local caches: sanitised message frames (a stored message never
# changes, so its cleaned HTML can be reused while the reader looks at it).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "frames": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "frames",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 32},
    },
    # Attachment thumbnails (portal/thumbnails.py), a few KB each: about twenty
    # messages' worth, apart from the frames so that neither pushes out the other.
    "thumbnails": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "thumbnails",
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": 256},
    },
}
# Longest a message's HTML may take to sanitise; past it the frame shows its text.
HTML_TIME_LIMIT = env.duration("HTML_TIME_LIMIT", "5s", minimum=1)

# --- Security ------------------------------------------------------------------
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# With an https base URL: browsers keep to https for a year, and plain-http
# requests are redirected. TLS ends at a proxy, which says so in
# X-Forwarded-Proto (docs/operations.md); /healthz stays reachable over http.
SECURE_HSTS_SECONDS = env.int("HSTS_SECONDS", 31_536_000, minimum=0) if HTTPS else 0
# Subdomains of the portal's own host name (not its siblings): safe to include.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SILENCED_SYSTEM_CHECKS = [
    # CSRF protection is on: sealbox.portal.csrf.CsrfViewMiddleware is Django's,
    # subclassed (Origin: null from same-origin forms under no-referrer).
    "security.W003",
    # The HSTS preload list takes whole registrable domains (example.org), a
    # decision for the organisation's domain, not for the portal's host.
    "security.W021",
]
# Proxies whose X-Forwarded-For names the client (throttling, activity log).
TRUSTED_PROXIES = env.networks("TRUSTED_PROXIES", "")
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", 30, minimum=1)
# The session lives as long as the idle timeout and is renewed while it is used
# (accounts/middleware.py): a session unused for that long is over.
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# However busy, a session is over this long after its sign-in (ASVS 3.3.2).
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", 12, minimum=1)
SESSION_COOKIE_NAME = "sealbox_session"
# Database sessions that are saved on a full disk too (diskspace.py).
SESSION_ENGINE = "sealbox.web.sessions"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "sealbox.portal.errors.csrf_failure"
# Every portal page: no inline script, nothing from elsewhere, never framed.
# The message frame answers with its own, stricter policy (portal/views.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Sign-in protection ---------------------------------------------------------
REQUIRE_2FA = env.bool("REQUIRE_2FA", False)
# Failed sign-ins (passwords and codes) per address: from half this many, each
# try waits a little longer; at this many, the address is locked for a while.
SIGNIN_LOCK_AFTER = env.int("SIGNIN_LOCK_AFTER", 10, minimum=2)
SIGNIN_LOCK_MINUTES = env.int("SIGNIN_LOCK_MINUTES", 15, minimum=1)
# Signing in with a six-digit code sent by email instead of the password
# (accounts/emailcode.py): no stronger than the recipient's mailbox.
SIGNIN_EMAIL_CODE = env.bool("SIGNIN_EMAIL_CODE", False)
AUDIT_DAYS = env.int("AUDIT_DAYS", 180, minimum=1)

# --- SMTP intake -------------------------------------------------------------
SMTP_LISTEN = env.str("SMTP_LISTEN", "127.0.0.1:2525")
SMTP_HOSTNAME = env.str("SMTP_HOSTNAME", socket.getfqdn())
SMTP_MAX_MESSAGE_SIZE = env.int("SMTP_MAX_MESSAGE_MB", 50, minimum=1) * 1024 * 1024
SMTP_MAX_RECIPIENTS = env.int("SMTP_MAX_RECIPIENTS", 100, minimum=1)
SMTP_ALLOWED_NETWORKS = env.networks("SMTP_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")
# Sessions open at once, in all and from one client address (per smtpd process),
# as Postfix's own defaults; more are answered 421 4.7.0.
SMTP_MAX_CONNECTIONS = env.int("SMTP_MAX_CONNECTIONS", 100, minimum=1)
SMTP_MAX_CONNECTIONS_PER_CLIENT = env.int("SMTP_MAX_CONNECTIONS_PER_CLIENT", 50, minimum=1)
# A session ends after this long without progress (junk commands do not count),
# and after this long in all.
SMTP_IDLE_TIMEOUT = env.duration("SMTP_IDLE_TIMEOUT", "5m", minimum=1)
SMTP_SESSION_LIMIT = env.duration("SMTP_SESSION_LIMIT", "30m", minimum=1)
SMTP_TLS_CERT = env.path("SMTP_TLS_CERT")
SMTP_TLS_KEY = env.path("SMTP_TLS_KEY")
INTERNAL_DOMAINS: list[str] = [d.lower().lstrip("@") for d in env.list("INTERNAL_DOMAINS")]

# --- Outgoing mail -------------------------------------------------------------
RELAY_URL = env.secret("RELAY_URL")
RELAY_TIMEOUT = env.duration("RELAY_TIMEOUT", "60s")
OUTGOING_RETRY_FOR = env.duration("OUTGOING_RETRY_FOR", "5d")
OUTBOX_DIR = DATA_DIR / "outbox"
# An address alone takes the organisation's name as its display name (branding.py).
NOTIFY_FROM = env.str("NOTIFY_FROM", f"noreply@{BASE_HOST}")
NOTIFY_INCLUDE_SUBJECT = env.bool("NOTIFY_INCLUDE_SUBJECT", False)
NOTIFY_INTERVAL = env.duration("NOTIFY_INTERVAL", "5m")
ACTIVATION_DAYS = env.int("ACTIVATION_DAYS", 14, minimum=1)
WORKER_POLL_INTERVAL = env.duration("WORKER_POLL_INTERVAL", "2s")

# --- Encryption at rest (sealbox/vault; docs/encryption.md) ----------------------
STORAGE_ENCRYPTION = env.bool("STORAGE_ENCRYPTION", False)
ENCRYPTION_CERTS = env.path("ENCRYPTION_CERTS")
ENCRYPTION_KEY = env.path("ENCRYPTION_KEY")
# Taken out of os.environ at once, so that no child process inherits it:
# `sealbox serve` hands it to the web and worker processes through a pipe, and
# its SMTP intake never gets it. (/proc/PID/environ still shows the environment
# the process started with.) Kept exactly as given: spaces are part of it.
ENCRYPTION_KEY_PASSWORD = os.environ.pop("SEALBOX_ENCRYPTION_KEY_PASSWORD", "") or None
ENCRYPTION_KEY_PASSWORD_FILE = env.path("ENCRYPTION_KEY_PASSWORD_FILE")
if ENCRYPTION_KEY_PASSWORD and ENCRYPTION_KEY_PASSWORD_FILE:
    raise ConfigError(
        "set either SEALBOX_ENCRYPTION_KEY_PASSWORD or SEALBOX_ENCRYPTION_KEY_PASSWORD_FILE, "
        "not both"
    )
# How to ask an administrator for the password when none is configured; empty:
# systemd-ask-password under systemd, else the terminal.
ENCRYPTION_ASK_COMMAND = env.str("ENCRYPTION_ASK_COMMAND")

# --- Retention, quotas and clean-up (sealbox/housekeeping) ------------------------
# Days a message is kept after it arrived (0: for ever), and the periods a
# recipient may choose instead in their settings.
RETENTION_DAYS = env.int("RETENTION_DAYS", 90, minimum=0)
RETENTION_CHOICES = sorted(set(env.int_list("RETENTION_CHOICES", "7,30,90,365", minimum=1)))
CLEANUP_INTERVAL = env.duration("CLEANUP_INTERVAL", "1h")
# Accounts that never activated and hold no message are removed this long after
# they were created.
UNUSED_ACCOUNT_DAYS = env.int("UNUSED_ACCOUNT_DAYS", 30, minimum=1)
# Days before unread messages are removed that their recipient is reminded (0: never).
EXPIRY_REMINDER_DAYS = env.int("EXPIRY_REMINDER_DAYS", 3, minimum=0)
# Storage per mailbox in MiB (0: no limit), received and sent mail together.
QUOTA_MB = env.int("QUOTA_MB", 1024, minimum=0)
# What intake answers for a mailbox without room: a bounce (552 5.2.2) or "try later" (452 4.2.2).
QUOTA_FULL_REPLY = env.choice("QUOTA_FULL_REPLY", "permanent", ("permanent", "temporary"))
QUOTA_WARN_PERCENT = 80
# Free space kept in the data directory: intake refuses new mail (452 4.3.1)
# rather than go below it, and /healthz warns below twice it (diskspace.py).
MIN_FREE_MB = env.int("MIN_FREE_MB", 100, minimum=0)
# Operators must have two-factor sign-in to use the admin site.
ADMIN_REQUIRE_2FA = env.bool("ADMIN_REQUIRE_2FA", True)

# --- What recipients send: replies, new messages, read receipts ----------------
REPLY_FROM = env.choice("REPLY_FROM", "portal", ("portal", "user"))
PORTAL_ADDRESS = env.str("PORTAL_ADDRESS", parseaddr(NOTIFY_FROM)[1] or f"noreply@{BASE_HOST}")
MAX_UPLOAD_MB = env.int("MAX_UPLOAD_MB", 25, minimum=1)
# Big messages (over 8 MB) each process parses at once; more wait, then get 503.
PARSE_SLOTS = env.int("PARSE_SLOTS", 2, minimum=1)
ALLOW_COMPOSE = env.bool("ALLOW_COMPOSE", False)
COMPOSE_ALLOWED_RECIPIENTS = [a.lower() for a in env.list("COMPOSE_ALLOWED_RECIPIENTS")]
COMPOSE_PER_HOUR = env.int("COMPOSE_PER_HOUR", 20, minimum=0)
# Read receipts (outbound/receipts.py): "ask" the reader when a message asks
# for one, send "requested" ones or "always" one without asking, or "off".
READ_RECEIPTS = env.choice("READ_RECEIPTS", "ask", ("off", "ask", "requested", "always"))
# Uploads stay in memory, never in a temporary file (a reply's attachments are
# content); a request over SEALBOX_MAX_UPLOAD_MB plus the other fields is refused
# unread (portal/uploads.py).
FILE_UPLOAD_HANDLERS = ["sealbox.portal.uploads.MemoryOnlyUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Logging -------------------------------------------------------------------
LOG_LEVEL = env.choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "mail.log": {"level": "WARNING"},
    },
}
