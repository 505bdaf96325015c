"""Django settings for Takedown.

Everything a deployment changes comes from environment variables through the
typed readers in ``takedown.lib.env``; ``docs/configuration.md`` lists them.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from takedown.lib.env import (
    env_bool,
    env_choice,
    env_float,
    env_hostport,
    env_int,
    env_int_list,
    env_list,
    env_secret,
    env_str,
)
from takedown.locate.limits import Limit, parse_limit

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
    # The Django admin, for the admin role (takedown/web/admin_site.py).
    "takedown.web.apps.TakedownAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Only for its templates and static files: /api/docs runs Swagger UI from
    # them instead of a CDN (closed networks).
    "ninja",
    "takedown.cases",
    "takedown.intake",
    "takedown.locate",
    "takedown.notices",
    "takedown.monitor",
    "takedown.stats",
    "takedown.web",
    "takedown.sandbox",
    "axes",
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
    "takedown.web.middleware.UserTimezoneMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.tz",
                "takedown.access.roles.role_context",
                "takedown.web.preferences.time_zone_context",
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
# django-axes first: it refuses a locked-out login before the password is checked.
# Roles (docs/access.md): admins hold every model permission in the Django admin.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "takedown.access.roles.RoleBackend",
]
# Login throttling (django-axes): this many failed logins in a row for one user
# name from one address locks that pair out for LOGIN_COOLOFF seconds.  The pair,
# not the address alone, so a team behind one NAT is not locked out together.
AXES_FAILURE_LIMIT = env_int("TAKEDOWN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("TAKEDOWN_LOGIN_COOLOFF", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "takedown.web.accounts.locked_out"
# The client's address is REMOTE_ADDR as the web server saw it; behind a reverse
# proxy that is the proxy's, so the lockout is then per user name.
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
# (locate engineer) manners towards registries and the locate task; docs/locate.md
REGISTRY_TIMEOUT = env_float("TAKEDOWN_REGISTRY_TIMEOUT", 10.0, minimum=0.1)
REGISTRY_MAX_WAIT = env_float("TAKEDOWN_REGISTRY_MAX_WAIT", 30.0, minimum=0)
REGISTRY_CONCURRENCY = env_int("TAKEDOWN_REGISTRY_CONCURRENCY", 4, minimum=1)
REGISTRY_RATE_LIMITS: dict[str, Limit] = {}
for _item in env_list("TAKEDOWN_REGISTRY_RATE_LIMITS", ["lacnic=10/60", "ripe=1000/86400"]):
    try:
        _name, _limit = parse_limit(_item)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TAKEDOWN_REGISTRY_RATE_LIMITS: {_exc}") from None
    REGISTRY_RATE_LIMITS[_name] = _limit
LOCATE_RETRY_DELAYS = env_int_list(
    "TAKEDOWN_LOCATE_RETRY_DELAYS", [600, 3600, 21600, 86400], minimum=1
)
if not LOCATE_RETRY_DELAYS:
    raise ImproperlyConfigured("TAKEDOWN_LOCATE_RETRY_DELAYS: comma-separated seconds")
LOCATE_BATCH_SIZE = env_int("TAKEDOWN_LOCATE_BATCH_SIZE", 500, minimum=1)
LOCATE_CONCURRENCY = env_int("TAKEDOWN_LOCATE_CONCURRENCY", 64, minimum=1)
LOCATE_REGISTRAR = env_bool("TAKEDOWN_LOCATE_REGISTRAR", True)
ISP_ASNS = env_int_list("TAKEDOWN_ISP_ASNS", [], minimum=1)
# "64500=Example CDN,64501=Other CDN": extra CDNs recognised by AS number.
CDN_ASNS: dict[int, str] = {}
for _item in env_list("TAKEDOWN_CDN_ASNS", []):
    _asn, _sep, _cdn = _item.partition("=")
    if not _asn.strip().isdigit():
        raise ImproperlyConfigured(f"TAKEDOWN_CDN_ASNS: {_item!r} is not ASN=name")
    CDN_ASNS[int(_asn)] = _cdn.strip() or f"AS{_asn.strip()}"

# --- mail ---------------------------------------------------------------------
SMTP_URL = env_str("TAKEDOWN_SMTP_URL", "smtp://127.0.0.1:25")
EMAIL_BACKEND = env_str("TAKEDOWN_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
DEFAULT_FROM_EMAIL = TEAM_EMAIL
SERVER_EMAIL = TEAM_EMAIL
INBOUND_SMTP = env_hostport("TAKEDOWN_INBOUND_SMTP", "127.0.0.1:2525")
INBOUND_MAX_BYTES = env_int("TAKEDOWN_INBOUND_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)


# --- notices (takedown/notices; docs/notices.md) -------------------------------
def _smtp_from_url(url: str) -> dict[str, object]:
    """``smtp://user:pass@host:port``, ``smtps://`` (TLS on connect), ``?starttls=1``."""
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ImproperlyConfigured(f"TAKEDOWN_SMTP_URL={url!r} is not smtp://host:port or smtps://")
    query = parse_qs(parts.query)
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise ImproperlyConfigured(f"TAKEDOWN_SMTP_URL={url!r} has a bad port") from None
    return {
        "host": parts.hostname,
        "port": port,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "ssl": parts.scheme == "smtps",
        "starttls": query.get("starttls", ["0"])[0].lower() in {"1", "true", "yes"},
    }


_smtp = _smtp_from_url(SMTP_URL)
EMAIL_HOST = str(_smtp["host"])
EMAIL_PORT = int(_smtp["port"])  # type: ignore[call-overload]
EMAIL_HOST_USER = str(_smtp["user"])
EMAIL_HOST_PASSWORD = env_secret("TAKEDOWN_SMTP_PASSWORD", str(_smtp["password"]))
EMAIL_USE_SSL = bool(_smtp["ssl"])
EMAIL_USE_TLS = bool(_smtp["starttls"])
EMAIL_TIMEOUT = env_int("TAKEDOWN_SMTP_TIMEOUT", 30, minimum=1)
INBOUND_LMTP = env_bool("TAKEDOWN_INBOUND_LMTP", False)
# A stored message still unprocessed this long after it arrived was left by a
# process that died: the mail loop processes it.
INBOUND_PENDING_AFTER = env_float("TAKEDOWN_INBOUND_PENDING_AFTER", 120.0, minimum=1.0)
# IMAP poller for teams that only have a mailbox: imaps://user:pass@host:993/INBOX
IMAP_URL = env_secret("TAKEDOWN_IMAP_URL")
IMAP_INTERVAL = env_float("TAKEDOWN_IMAP_INTERVAL", 60.0, minimum=1.0)


def _interval(name: str, default: str) -> str:
    from takedown.notices.intervals import IntervalError, parse_interval

    raw = env_str(name, default)
    try:
        parse_interval(raw)
    except IntervalError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
    return raw


# Sites of one organisation seen up within this many seconds go into one notice.
NOTICE_BATCH_WINDOW = env_float("TAKEDOWN_NOTICE_BATCH_WINDOW", 5.0, minimum=0.0)
# Named as in the sandbox scenarios' ``settings.renotify_after`` (seconds there).
NOTICE_RENOTIFY_AFTER = _interval("TAKEDOWN_RENOTIFY_AFTER", "2bd")
NOTICE_MAX_FOLLOWUPS = env_int("TAKEDOWN_NOTICE_MAX_FOLLOWUPS", 2, minimum=0)
NOTICE_ESCALATE = env_bool("TAKEDOWN_NOTICE_ESCALATE", True)
NOTICE_RETRY_BASE = env_float("TAKEDOWN_NOTICE_RETRY_BASE", 30.0, minimum=0.01)
NOTICE_RETRY_MAX = env_float("TAKEDOWN_NOTICE_RETRY_MAX", 3600.0, minimum=0.01)
# A message claimed for sending this long ago by a worker that never finished
# is not sent again (it may have left): it is marked "uncertain" for a handler.
NOTICE_SENDING_TIMEOUT = env_float("TAKEDOWN_NOTICE_SENDING_TIMEOUT", 600.0, minimum=1.0)
NOTICE_TICK = env_float("TAKEDOWN_NOTICE_TICK", 1.0, minimum=0.01)
NOTICE_FROM = env_str("TAKEDOWN_NOTICE_FROM", TEAM_EMAIL)
# Envelope senders of notices are signed per notice and recipient on this domain
# (VERP, takedown/notices/bounce_address.py): its mail must reach `takedown mail`.
# Empty: notices go out from NOTICE_FROM, and only bounces quoting a Message-ID
# we sent are tied to a notice.
NOTICE_BOUNCE_DOMAIN = env_str("TAKEDOWN_BOUNCE_DOMAIN", "").strip().lower().rstrip(".")
if NOTICE_BOUNCE_DOMAIN and not re.fullmatch(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}", NOTICE_BOUNCE_DOMAIN
):
    raise ImproperlyConfigured(
        f"TAKEDOWN_BOUNCE_DOMAIN: {NOTICE_BOUNCE_DOMAIN!r} is not a domain name"
    )
NOTICE_XARF = env_bool("TAKEDOWN_NOTICE_XARF", True)
# OpenPGP signing (PGP/MIME, RFC 3156) with python-gnupg; off while no key is named.
NOTICE_GPG_KEY = env_str("TAKEDOWN_NOTICE_GPG_KEY", "")
NOTICE_GPG_HOME = env_str("TAKEDOWN_NOTICE_GPG_HOME", "")
NOTICE_GPG_PASSPHRASE = env_secret("TAKEDOWN_NOTICE_GPG_PASSPHRASE")

# --- stats (takedown/stats; docs/stats.md) -----------------------------------
# Extra non-business days every year, as MM-DD (e.g. the year-end holidays
# "12-29,12-30,12-31,01-02,01-03"); weekends and Japanese national holidays
# are always excluded.
STATS_CLOSED_DAYS = env_list("TAKEDOWN_STATS_CLOSED_DAYS", [])
for _day in STATS_CLOSED_DAYS:
    _m, _sep, _d = _day.partition("-")
    if not (_sep and _m.isdigit() and _d.isdigit() and 1 <= int(_m) <= 12 and 1 <= int(_d) <= 31):
        raise ImproperlyConfigured(f"TAKEDOWN_STATS_CLOSED_DAYS: {_day!r} is not MM-DD")
# Longest the statistics pages lag behind new events (recomputation is rate-limited to
# about 5% of the time by what it costs; small histories are recomputed at once).
STATS_CACHE_SECONDS = env_int("TAKEDOWN_STATS_CACHE_SECONDS", 300, minimum=0)
# Font family for chart labels; empty: the first CJK font found (Noto Sans CJK JP, IPAex ...).
STATS_FONT = env_str("TAKEDOWN_STATS_FONT", "")
# Queries of one computation run side by side on this many connections.
STATS_WORKERS = env_int("TAKEDOWN_STATS_WORKERS", min(4, os.cpu_count() or 1), minimum=1)

# --- monitor (docs/monitor.md) ---------------------------------------------------
# Seconds between checks of a site that is up, or down but not yet confirmed.
# Sites that are down are watched for revival at a slowly growing interval
# (a quarter of the time since they went down, between CHECK_INTERVAL and
# WATCH_INTERVAL_MAX) until WATCH_FOR has passed.
CHECK_INTERVAL = env_float("TAKEDOWN_CHECK_INTERVAL", 1800.0, minimum=0.01)
CONFIRM_DOWN = env_int("TAKEDOWN_CONFIRM_DOWN", 2, minimum=1)
# Inconclusive checks (timeouts, broken answers, 5xx ...) prove nothing: the
# site is checked again after INCONCLUSIVE_RETRY seconds, doubling each time up
# to its usual interval.  A site never checked conclusively is notified anyway
# after INCONCLUSIVE_NOTIFY_AFTER such checks in a row (the report says it is
# up; nothing says it is gone).  An open site inconclusive for longer than
# INCONCLUSIVE_AFTER seconds becomes a handler item.
INCONCLUSIVE_RETRY = env_float("TAKEDOWN_INCONCLUSIVE_RETRY", 60.0, minimum=0.01)
INCONCLUSIVE_NOTIFY_AFTER = env_int("TAKEDOWN_INCONCLUSIVE_NOTIFY_AFTER", 3, minimum=1)
INCONCLUSIVE_AFTER = env_float("TAKEDOWN_INCONCLUSIVE_AFTER", 6 * 3600.0, minimum=0)
WATCH_FOR = env_float("TAKEDOWN_WATCH_FOR", 30 * 86400.0, minimum=0)
WATCH_INTERVAL_MAX = env_float("TAKEDOWN_WATCH_INTERVAL_MAX", 86400.0, minimum=0.01)
# Checks are stored as runs of equal outcomes (docs/monitor.md, "How checks
# are stored").  After CHECK_DETAIL_DAYS, ``takedown checks-compact`` merges
# a site's consecutive runs that differ only in their raw detail (an address,
# a redirect target, the other browser's answer) but not in their verdict:
# every change of verdict and the check that made it stay as they were.
CHECK_DETAIL_DAYS = env_float("TAKEDOWN_CHECK_DETAIL_DAYS", 90.0, minimum=0)
MONITOR_BATCH = env_int("TAKEDOWN_MONITOR_BATCH", 500, minimum=1)
MONITOR_CONCURRENCY = env_int("TAKEDOWN_MONITOR_CONCURRENCY", 200, minimum=1)
MONITOR_PER_HOST = env_int("TAKEDOWN_MONITOR_PER_HOST", 4, minimum=1)
MONITOR_IDLE = env_float("TAKEDOWN_MONITOR_IDLE", 1.0, minimum=0.01)
# Seconds a claimed check stays the monitor's without renewal: a live monitor
# renews its unrecorded checks every third of it, a dead one's are due again
# when it runs out (docs/monitor.md "Claiming").
MONITOR_LEASE = env_float("TAKEDOWN_MONITOR_LEASE", 30.0, minimum=1.0)
FETCH_CONNECT_TIMEOUT = env_float("TAKEDOWN_FETCH_CONNECT_TIMEOUT", 5.0, minimum=0.01)
FETCH_READ_TIMEOUT = env_float("TAKEDOWN_FETCH_READ_TIMEOUT", 10.0, minimum=0.01)
FETCH_TIMEOUT = env_float("TAKEDOWN_FETCH_TIMEOUT", 20.0, minimum=0.01)
FETCH_MAX_BODY = env_int("TAKEDOWN_FETCH_MAX_BODY", 1024 * 1024, minimum=1024)
FETCH_MAX_DOWNLOAD = env_int("TAKEDOWN_FETCH_MAX_DOWNLOAD", 32 * 1024 * 1024, minimum=1024)
FETCH_ACCEPT_LANGUAGE = env_str("TAKEDOWN_FETCH_ACCEPT_LANGUAGE", "ja,en-US;q=0.9,en;q=0.8")
# Which loopback networks ALLOW_LOOPBACK_TARGETS opens (the sandbox narrows it to
# its scenario's networks).  127.0.0.1 itself is never fetched.
LOOPBACK_TARGETS = env_list("TAKEDOWN_LOOPBACK_TARGETS", ["127.0.0.0/8"])
import ipaddress as _ipaddress  # noqa: E402 - only this check needs it

for _net in LOOPBACK_TARGETS:
    try:
        if not _ipaddress.ip_network(_net, strict=False).is_loopback:
            raise ValueError("not a loopback network")
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TAKEDOWN_LOOPBACK_TARGETS: {_net!r}: {_exc}") from None
SCREENSHOTS = env_bool("TAKEDOWN_SCREENSHOTS", not TESTING)
SCREENSHOT_TIMEOUT = env_float("TAKEDOWN_SCREENSHOT_TIMEOUT", 30.0, minimum=1)
CHROMIUM_PATH = env_str("TAKEDOWN_CHROMIUM_PATH", "/usr/bin/chromium")
# Keep malware samples (zipped, password "infected") besides their hash and size.
KEEP_MALWARE = env_bool("TAKEDOWN_KEEP_MALWARE", False)

# --- background work ----------------------------------------------------------
# All of it is the Work table (takedown/cases/work.py): the loop's steps, run by
# ``takedown worker``, and the screenshots, run by the evidence worker of
# ``takedown monitor`` or ``takedown evidence`` (takedown/loop.py).
# The worker (``takedown worker``): threads running the loop's due steps, how
# long it sleeps when nothing is due, how long a claim is held without renewal
# (a worker renews its claims every third of it; a dead one's are due again
# when it runs out), and the retries of a step that raises.
WORKER_THREADS = env_int("TAKEDOWN_WORKERS", 4, minimum=1)
WORKER_IDLE = env_float("TAKEDOWN_WORKER_IDLE", 1.0, minimum=0.01)
WORK_LEASE = env_float("TAKEDOWN_WORK_LEASE", 30.0, minimum=0.1)
WORK_MAX_ATTEMPTS = env_int("TAKEDOWN_WORK_MAX_ATTEMPTS", 5, minimum=1)
WORK_RETRY_BASE = env_float("TAKEDOWN_WORK_RETRY_BASE", 30.0, minimum=0.01)
WORK_RETRY_MAX = env_float("TAKEDOWN_WORK_RETRY_MAX", 3600.0, minimum=0.01)
# Fault tests only (takedown/lib/failpoints.py): points where a process waits to be killed.
FAILPOINTS = frozenset(env_list("TAKEDOWN_FAILPOINTS", []))
FAILPOINT_DIR = env_str("TAKEDOWN_FAILPOINT_DIR", str(DATA_DIR / "failpoints"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("TAKEDOWN_LOG_LEVEL", "INFO").upper()},
    # aiosmtpd logs every connection at INFO under "mail.log".
    # django-axes logs its start at INFO in every process, and each failed
    # login at WARNING (kept).
    "loggers": {
        "mail.log": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
