"""Django settings for Takedown.

Everything a deployment changes comes from environment variables through the
typed readers in ``takedown.lib.env``; ``docs/configuration.md`` lists them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from takedown.lib.env import (
    env_bool,
    env_choice,
    env_float,
    env_hostport,
    env_int,
    env_list,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent
TESTING = "pytest" in sys.modules or env_bool("TAKEDOWN_TESTING")

DATA_DIR = Path(env_str("TAKEDOWN_DATA_DIR", str(REPO_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("TAKEDOWN_DEBUG", False)
SECRET_KEY = env_secret("TAKEDOWN_SECRET_KEY")
if not SECRET_KEY:
    # A single-machine install gets a random key kept in the data directory, so
    # sessions survive restarts without the operator having to invent one.
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env_list("TAKEDOWN_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("TAKEDOWN_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("TAKEDOWN_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "takedown.cases",
    "takedown.intake",
    "takedown.locate",
    "takedown.notices",
    "takedown.monitor",
    "takedown.stats",
    "takedown.web",
    "takedown.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "takedown.web.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "takedown.urls"
WSGI_APPLICATION = "takedown.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------
_default_db = f"sqlite:///{DATA_DIR / 'takedown.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", _default_db)
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
except Exception as exc:  # dj-database-url raises several types for bad URLs
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r} cannot be parsed: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets the web, the workers and the mail listener read while one writes;
        # IMMEDIATE transactions take the write lock up front instead of failing
        # with "database is locked" half way through a transaction.
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=20000;PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["CONN_MAX_AGE"] = env_int("TAKEDOWN_DB_CONN_MAX_AGE", 60, minimum=0)
else:
    raise ImproperlyConfigured(
        f"DATABASE_URL: only SQLite and PostgreSQL are supported, got {_db['ENGINE']}"
    )
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- i18n ---------------------------------------------------------------------
LANGUAGE_CODE = env_choice("TAKEDOWN_LANGUAGE", "en", {"en", "ja"})
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TAKEDOWN_TIME_ZONE", "Asia/Tokyo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "evidence"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("TAKEDOWN_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
MAX_REPORT_BYTES = env_int("TAKEDOWN_MAX_REPORT_BYTES", 5 * 1024 * 1024, minimum=1024)
# Django reads bodies up to four times the report limit so an oversize report
# still reaches intake, which keeps its raw form and answers 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REPORT_BYTES * 4

# --- the deployment -----------------------------------------------------------
# "domestic" and "overseas" (reporters, IP address administrators) are relative to it.
HOME_COUNTRY = env_str("TAKEDOWN_HOME_COUNTRY", "JP").upper()
if len(HOME_COUNTRY) != 2 or not HOME_COUNTRY.isalpha():
    raise ImproperlyConfigured(f"TAKEDOWN_HOME_COUNTRY={HOME_COUNTRY!r} is not an ISO 3166 code")
TEAM_NAME = env_str("TAKEDOWN_TEAM_NAME", "Takedown CSIRT")
TEAM_EMAIL = env_str("TAKEDOWN_TEAM_EMAIL", "takedown@localhost")
MAX_URLS_PER_REPORT = env_int("TAKEDOWN_MAX_URLS_PER_REPORT", 5000, minimum=1)

# --- the simulated internet / tests -------------------------------------------
# The only switch that lets the fetcher and the resolver reach loopback targets.
# Off by default; on in sandbox mode and in the test suite.
ALLOW_LOOPBACK_TARGETS = env_bool("TAKEDOWN_ALLOW_LOOPBACK_TARGETS", False)
SANDBOX = env_bool("TAKEDOWN_SANDBOX", False)
# Extra CA bundle trusted for HTTPS checks (the sandbox's local CA).
CA_BUNDLE = env_str("TAKEDOWN_CA_BUNDLE", "")
# In sandbox mode sites listen on non-privileged ports; real deployments use 80/443.
HTTP_PORT = env_int("TAKEDOWN_HTTP_PORT", 80, minimum=1)
HTTPS_PORT = env_int("TAKEDOWN_HTTPS_PORT", 443, minimum=1)

# --- locate -------------------------------------------------------------------
DNS_RESOLVER = env_hostport("TAKEDOWN_DNS_RESOLVER")  # None: the system's resolvers
DNS_TIMEOUT = env_float("TAKEDOWN_DNS_TIMEOUT", 5.0, minimum=0.1)
RDAP_BOOTSTRAP_URL = env_str("TAKEDOWN_RDAP_BOOTSTRAP_URL", "https://data.iana.org/rdap/")
WHOIS_SERVER = env_hostport("TAKEDOWN_WHOIS_SERVER")  # None: whois.iana.org:43 and referrals
ASN_TABLE = env_str("TAKEDOWN_ASN_TABLE", "")
REGISTRY_CACHE_TTL = env_int("TAKEDOWN_REGISTRY_CACHE_TTL", 7 * 24 * 3600, minimum=0)

# --- mail ---------------------------------------------------------------------
SMTP_URL = env_str("TAKEDOWN_SMTP_URL", "smtp://127.0.0.1:25")
EMAIL_BACKEND = env_str("TAKEDOWN_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = TEAM_EMAIL
SERVER_EMAIL = TEAM_EMAIL
INBOUND_SMTP = env_hostport("TAKEDOWN_INBOUND_SMTP", "127.0.0.1:2525")
INBOUND_MAX_BYTES = env_int("TAKEDOWN_INBOUND_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)

# --- background work ----------------------------------------------------------
HUEY_REDIS_URL = env_str("TAKEDOWN_REDIS_URL", "")
HUEY_IMMEDIATE = env_bool("TAKEDOWN_HUEY_IMMEDIATE", TESTING)
if HUEY_REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": "takedown",
        "url": HUEY_REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "takedown",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
    }
HUEY["consumer"] = {
    "workers": env_int("TAKEDOWN_WORKERS", 4, minimum=1),
    "worker_type": "thread",
    # Poll often: the sandbox runs the whole loop in seconds, and an idle
    # SQLite poll costs next to nothing.
    "initial_delay": 0.05,
    "backoff": 1.15,
    "max_delay": env_float("TAKEDOWN_WORKER_MAX_DELAY", 1.0, minimum=0.01),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("TAKEDOWN_LOG_LEVEL", "INFO").upper()},
    "loggers": {"huey": {"level": "WARNING"}},
}
