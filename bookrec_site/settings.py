"""BookRec settings: every value that differs between deployments comes from the environment."""

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def configuration_error(message):
    """Stop start-up with one line naming the variable (no traceback): every process fails the same way."""
    sys.exit(f"Configuration error: {message}")


def env_str(name, default=""):
    value = os.environ.get(name, "").strip()
    return value if value else default


def env_bool(name, default=False):
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value == "":
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    # A typo must not quietly mean "off" (SECURE_SSL_REDIRECT=ture would serve plain HTTP).
    configuration_error(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")


def env_int(name, default, minimum=0):
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        configuration_error(f"{name}={raw!r} is not a whole number.")
    if value < minimum:
        configuration_error(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_choice(name, choices, default):
    value = env_str(name, default)
    if value not in choices:
        configuration_error(f"{name}={value!r} is not one of: {', '.join(sorted(choices))}.")
    return value


def env_site_url(name, default=""):
    """An absolute http(s) address with a host and no query, without its trailing slash ("" when unset)."""
    raw = env_str(name, default)
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        configuration_error(f"{name}={raw!r} is not a site address such as https://books.example.org.")
    return raw.rstrip("/")


def database_from_url(url):
    """Turn a DATABASE_URL (postgres://user:pass@host:port/name or sqlite:///path) into a DATABASES entry."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        configuration_error(f"DATABASE_URL cannot be read ({error}): use postgres://user@host:port/name or sqlite:///path.")
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path or BASE_DIR / "db.sqlite3"}
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "OPTIONS": options,
            # Persistent connections, checked before reuse so a restarted database is survived.
            "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    configuration_error(f"DATABASE_URL has an unsupported scheme {parts.scheme!r}: use postgres:// or sqlite://.")


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        configuration_error("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    if not DEBUG:
        configuration_error("ALLOWED_HOSTS must be set when DEBUG is off (comma-separated host names).")
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_filters",
    "allauth",
    "allauth.account",
    "accounts",
    "catalog",
    "recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "bookrec_site.middleware.ContentSecurityPolicyMiddleware",
    "bookrec_site.middleware.StripNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "bookrec_site.middleware.PrivateCacheMiddleware",
]

ROOT_URLCONF = "bookrec_site.urls"
WSGI_APPLICATION = "bookrec_site.wsgi.application"

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
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    # Only development falls back to the checkout's SQLite file: a cron job whose environment went
    # missing must stop, not train an empty database and exit 0.
    if not DEBUG:
        configuration_error("DATABASE_URL must be set when DEBUG is off (postgres://user@host:port/name).")
    DATABASE_URL = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": database_from_url(DATABASE_URL)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the site read while retrain writes; the timeout waits out short write locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

def redis_cache(url):
    """django-redis with errors read as misses (bookrec_site/cache.py) and timeouts short enough for a page."""
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "CLIENT_CLASS": "bookrec_site.cache.FailOpenClient",
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
        },
    }


REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    if urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
        configuration_error(f"REDIS_URL has an unsupported scheme {urlsplit(REDIS_URL).scheme!r}: use redis:// or rediss://.")
    # django-redis instead of Django's own Redis backend: with IGNORE_EXCEPTIONS an unreachable Redis is
    # logged and read as a miss, so every page keeps working (uncached) instead of answering 500. The
    # short timeouts keep a hung Redis from holding a worker. Rate limits then fail open (README).
    CACHES = {"default": redis_cache(REDIS_URL)}
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "bookrec.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bookrec"}}

# How many proxies in front of the site append to X-Forwarded-For (nginx in deploy/nginx.conf: 1).
# 0 trusts no header and uses the socket's address. allauth's login and sign-up rate limits key on
# the address this gives; too high a number lets a client choose its own address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.NotOnlyWhitespaceValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
# A new reader starts by rating a few books (also after confirming their email when verification is mandatory).
ACCOUNT_SIGNUP_REDIRECT_URL = "accounts:onboarding"
# With mandatory verification, confirming in the browser that signed up finishes that sign-up (and so lands on
# onboarding); allauth does this only for the pending sign-up in the same session, never for a link opened elsewhere.
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True

# django-allauth 65.x: email is the login identifier and there is no username.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_choice("ACCOUNT_EMAIL_VERIFICATION", {"mandatory", "optional", "none"}, "optional" if DEBUG else "mandatory")
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_RATE_LIMITS = {
    "login_failed": os.environ.get("LOGIN_FAILED_RATE_LIMIT", "5/5m/ip,5/5m/key"),
}

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if os.environ.get("EMAIL_HOST") else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "BookRec <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Recommendation emails name the site and link to it with these, never with a request's Host header.
SITE_NAME = env_str("SITE_NAME", "BookRec")
SITE_URL = env_site_url("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Uploads (Goodreads CSV) are read in memory up to this size and rejected above the import limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024

# Security. Production (DEBUG off) is HTTPS behind a proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Covers come from Goodreads' image host for imported books; everything else is served by us.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"bad_host": {"()": "bookrec_site.logging.BadHostFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": sys.stdout, "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": env_choice("LOG_LEVEL", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, "INFO")},
    "loggers": {
        # Request errors carry their stack trace (exc_info) through this logger.
        "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
        # A bad Host header: one WARNING line, no traceback, the host cut short (bookrec_site/logging.py).
        "django.security.DisallowedHost": {"filters": ["bad_host"], "level": "WARNING"},
    },
}

# Recommender knobs that operators may want to change without a deploy.
# Without a shared cache (REDIS_URL) each worker checks the database this often for a newly activated model.
RECOMMENDER_MODEL_CHECK_SECONDS = env_int("RECOMMENDER_MODEL_CHECK_SECONDS", 5, minimum=1)
ONBOARDING_MIN_RATINGS = env_int("ONBOARDING_MIN_RATINGS", 5, minimum=1)
