"""Settings read from the environment, with development defaults."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

from oauth_server.sqlite_writers import QueuedWriters

log = logging.getLogger(__name__)

DEFAULT_DB_NAME = "oauth_server.db"

# Every environment variable the server reads: ``load`` below, ``create_app``
# (OAUTH_SERVER_INSTANCE) and the gunicorn settings (oauth_server/gunicorn_conf.py). The
# compose file may hand the server nothing else (tests/production/test_compose.py).
ENVIRONMENT = (
    "DATABASE_URL",
    "SECRET_KEY",
    "TOKEN_ENCRYPTION_KEY",
    "OAUTH_ISSUER",
    "OAUTH_SERVER_INSTANCE",
    "REDIS_URL",
    "TRUSTED_PROXIES",
    "LAST_USED_RESOLUTION",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_LIFETIME",
    "SUDO_MODE_SECONDS",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "AUTHORIZATION_CODE_TTL",
    "RATELIMIT_ENABLED",
    "RATELIMIT_KEY_PREFIX",
    "RATELIMIT_LOGIN",
    "RATELIMIT_LOGIN_ACCOUNT",
    "RATELIMIT_RESET",
    "RATELIMIT_RESET_ACCOUNT",
    "RATELIMIT_API",
    "RATELIMIT_API_COMPANY",
    "RATELIMIT_API_PARTNER",
    "RATELIMIT_TOKEN",
    "RATELIMIT_TOKEN_COMPANY",
    "LOG_LEVEL",
    "OUTBOUND_ALLOW_LOOPBACK",
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_DEFAULT_SENDER",
    "MAIL_TIMEOUT",
    "JOB_QUEUE_NAME",
    "JOB_RETRIES",
    "JOB_RETRY_DELAY",
    "JOB_LEASE_SECONDS",
    "JOB_STALE_SECONDS",
    "JOB_SWEEP_SECONDS",
    "SECURITY_LOG_RETENTION_DAYS",
    "GRANT_LIFETIME_DAYS",
    "EVENTS_RETRY_FIRST_SECONDS",
    "EVENTS_RETRY_WINDOW_SECONDS",
    "SECRET_SCANNING_PUBLIC_KEYS",
    "RATELIMIT_LEAK_REPORT",
    "PURGE_RETENTION_DAYS",
)


def normalize_database_url(url: str) -> str:
    """Let a plain ``postgresql://`` URL work as written: we drive PostgreSQL with psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secrets(instance_path: str) -> dict[str, str]:
    """Keys for a development instance, made once and kept in the instance folder.

    Production sets SECRET_KEY and TOKEN_ENCRYPTION_KEY in the environment; a laptop
    running ``make run`` should not have to, and must keep the same keys across restarts
    so that stored personal tokens stay readable.
    """
    path = Path(instance_path) / "secret_keys.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    data = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    log.warning("No SECRET_KEY/TOKEN_ENCRYPTION_KEY in the environment: using %s", path)
    return data


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment, then ``overrides``."""
    overrides = dict(overrides or {})
    env = os.environ
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL")
        or f"sqlite:///{Path(instance_path) / DEFAULT_DB_NAME}",
        "OAUTH_ISSUER": env.get("OAUTH_ISSUER", "http://127.0.0.1:5000").rstrip("/"),
        "REDIS_URL": env.get("REDIS_URL") or None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        # A token's "last used" is written at most this often (seconds).
        "LAST_USED_RESOLUTION": int(env.get("LAST_USED_RESOLUTION", "60")),
        # argon2id parameters (passwords.py): argon2-cffi's defaults, RFC 9106's
        # low-memory profile, when None. A hash made with others is redone at sign-in.
        "PASSWORD_ARGON2": None,
        # Browser sessions (services/sessions.py), in seconds: signed out after 8 hours
        # without a request, and 14 days after signing in whatever the activity.
        "SESSION_IDLE_TIMEOUT": int(env.get("SESSION_IDLE_TIMEOUT", str(8 * 3600))),
        "SESSION_LIFETIME": int(env.get("SESSION_LIFETIME", str(14 * 24 * 3600))),
        "ACCESS_TOKEN_TTL": int(env.get("ACCESS_TOKEN_TTL", "3600")),
        "REFRESH_TOKEN_TTL": int(env.get("REFRESH_TOKEN_TTL", str(30 * 24 * 3600))),
        "AUTHORIZATION_CODE_TTL": int(env.get("AUTHORIZATION_CODE_TTL", "120")),
        "RATELIMIT_TOKEN": env.get("RATELIMIT_TOKEN", "120 per minute"),
        "RATELIMIT_TOKEN_COMPANY": env.get("RATELIMIT_TOKEN_COMPANY", "600 per minute"),
        "TOKEN_LIST_PAGE_SIZE": 50,
        "RATELIMIT_ENABLED": env.get("RATELIMIT_ENABLED", "true").lower() != "false",
        "RATELIMIT_LOGIN": env.get("RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_LOGIN_ACCOUNT": env.get("RATELIMIT_LOGIN_ACCOUNT", "20 per hour"),
        # "Forgot password?": requests per client address, and per e-mail address asked.
        "RATELIMIT_RESET": env.get("RATELIMIT_RESET", "5 per minute"),
        "RATELIMIT_RESET_ACCOUNT": env.get("RATELIMIT_RESET_ACCOUNT", "5 per hour"),
        "RATELIMIT_API": env.get("RATELIMIT_API", "600 per minute"),
        # API calls per company: its personal tokens together, and each partner app apart.
        "RATELIMIT_API_COMPANY": env.get("RATELIMIT_API_COMPANY", "3000 per minute"),
        "RATELIMIT_API_PARTNER": env.get("RATELIMIT_API_PARTNER", "1200 per minute"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Keys in a shared Redis start with this: deployments (or test runs) apart.
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "oauth_server"),
        # Redis down: keep serving, counting in this process until it is back.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Reverse proxies in front of us whose X-Forwarded-For names the client address
        # (per-address limits); 0 trusts none.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        # Outbound requests (oauth_server/outbound.py) may reach http://127.0.0.1 and
        # localhost: development and tests only. Off, every private, loopback and
        # link-local address is refused.
        "OUTBOUND_ALLOW_LOOPBACK": env.get("OUTBOUND_ALLOW_LOOPBACK", "false").lower() == "true",
        # Client ID Metadata Documents fetched from one host (services/client_metadata).
        "OUTBOUND_FETCHES_PER_HOST": "10 per minute",
        **_mail_settings(env, instance_path),
        **_job_settings(env, instance_path),
        # Security log rows older than this are deleted (security_log.delete_expired).
        "SECURITY_LOG_RETENTION_DAYS": int(env.get("SECURITY_LOG_RETENTION_DAYS", "400")),
        # A partner grant's absolute lifetime: no refresh after it (GrantRules).
        "GRANT_LIFETIME_DAYS": int(env.get("GRANT_LIFETIME_DAYS", "180")),
        # Leaked tokens (security/): GitHub's secret-scanning key file, and the public
        # report form's budget per client address.
        "SECRET_SCANNING_PUBLIC_KEYS": env.get("SECRET_SCANNING_PUBLIC_KEYS") or None,
        "RATELIMIT_LEAK_REPORT": env.get("RATELIMIT_LEAK_REPORT", "10 per minute"),
        # Revoked or expired tokens and grants are deleted this long after (services/purge).
        "PURGE_RETENTION_DAYS": int(env.get("PURGE_RETENTION_DAYS", "90")),
    }
    config["SESSION_COOKIE_SECURE"] = config["OAUTH_ISSUER"].startswith("https://")
    from_env = {
        "SECRET_KEY": env.get("SECRET_KEY"),
        "TOKEN_ENCRYPTION_KEY": env.get("TOKEN_ENCRYPTION_KEY"),
    }
    config.update({key: value for key, value in from_env.items() if value})
    config.update(overrides)
    # Sudo mode (auth/sudo.py): how long a password entry counts, in seconds.
    config.setdefault("SUDO_MODE_SECONDS", int(env.get("SUDO_MODE_SECONDS", "900")))
    missing = [k for k in ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY") if not config.get(k)]
    if missing:
        generated = _instance_secrets(instance_path)
        for key in missing:
            config[key] = generated[key]
    config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(config["SQLALCHEMY_DATABASE_URI"])
    config["RATELIMIT_STORAGE_URI"] = config.get("REDIS_URL") or "memory://"
    if config.get("REDIS_URL"):
        # A Redis that hangs must not hang every request: fail fast, then fall back.
        config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1}
        )
    config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", _engine_options(config["SQLALCHEMY_DATABASE_URI"])
    )
    return config


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _mail_settings(env: Any, instance_path: str) -> dict[str, Any]:
    """Outgoing mail (mail.py): SMTP when MAIL_SERVER is set, else files in the instance
    folder (``MAIL_FILE_PATH``)."""
    issuer_host = urlsplit(env.get("OAUTH_ISSUER", "http://localhost")).hostname or ""
    domain = issuer_host if any(c.isalpha() for c in issuer_host) else "localhost"
    return {
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT") or "25"),
        "MAIL_USE_TLS": _flag(env.get("MAIL_USE_TLS")),  # STARTTLS
        "MAIL_USE_SSL": _flag(env.get("MAIL_USE_SSL")),  # TLS from the first byte (465)
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER") or f"no-reply@{domain}",
        # Seconds an SMTP server may take to answer: a hung server fails the job (retried).
        "MAIL_TIMEOUT": int(env.get("MAIL_TIMEOUT") or "30"),
        "MAIL_FILE_PATH": str(Path(instance_path) / "mail"),
    }


def _job_settings(env: Any, instance_path: str) -> dict[str, Any]:
    """The job queue (jobs/): in Redis when REDIS_URL is set, else in ``JOB_QUEUE_FILE``."""
    return {
        # The queue's name: its Redis keys, or its rows in the SQLite file. A server and
        # its workers use the same; two deployments sharing a Redis use two.
        "JOB_QUEUE_NAME": env.get("JOB_QUEUE_NAME") or "oauth_server",
        "JOB_QUEUE_FILE": str(Path(instance_path) / "jobs.sqlite3"),
        # A failing job runs again JOB_RETRIES times, JOB_RETRY_DELAY seconds after the
        # first failure, then twice as long after each next one; then it has failed.
        "JOB_RETRIES": int(env.get("JOB_RETRIES") or "5"),
        "JOB_RETRY_DELAY": float(env.get("JOB_RETRY_DELAY") or "30"),
        # A worker holds a running job this long; past it, the job counts as abandoned (its
        # worker died) and runs again. Longer than any job may take.
        "JOB_LEASE_SECONDS": float(env.get("JOB_LEASE_SECONDS") or "300"),
        # A queued job not started this long after it was due is queued again (its message
        # was lost: the queue was unreachable when it was committed, or a worker died).
        "JOB_STALE_SECONDS": float(env.get("JOB_STALE_SECONDS") or "600"),
        # How often each worker looks for abandoned and stale jobs.
        "JOB_SWEEP_SECONDS": float(env.get("JOB_SWEEP_SECONDS") or "30"),
        # Revocation events (services/events.py): a failed delivery is tried again this
        # many seconds later, then twice as long after each next failure (at most 6 hours
        # apart), until tries have gone on for the window; then it has failed.
        "EVENTS_RETRY_FIRST_SECONDS": float(env.get("EVENTS_RETRY_FIRST_SECONDS") or "30"),
        "EVENTS_RETRY_WINDOW_SECONDS": float(env.get("EVENTS_RETRY_WINDOW_SECONDS") or "86400"),
    }


def _engine_options(url: str) -> dict[str, Any]:
    # hide_parameters: SQL parameters (e-mail addresses, hashes) stay out of the messages
    # of database errors, and so out of the logs.
    if url.startswith("sqlite"):
        return {
            "connect_args": {"timeout": 30, "factory": QueuedWriters},
            "hide_parameters": True,
        }
    # No pool_pre_ping: a connection the database dropped (a restart) is still replaced at
    # checkout instead of failing the request that drew it, by connections.check_at_checkout,
    # which spends no round trip on a connection in use a moment before.
    return {"hide_parameters": True}
