"""Settings read from the environment, with development defaults."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

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
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "AUTHORIZATION_CODE_TTL",
    "RATELIMIT_ENABLED",
    "RATELIMIT_KEY_PREFIX",
    "RATELIMIT_LOGIN",
    "RATELIMIT_LOGIN_ACCOUNT",
    "RATELIMIT_API",
    "RATELIMIT_API_COMPANY",
    "RATELIMIT_API_PARTNER",
    "RATELIMIT_TOKEN",
    "RATELIMIT_TOKEN_COMPANY",
    "LOG_LEVEL",
    "OUTBOUND_ALLOW_LOOPBACK",
    "SECURITY_LOG_RETENTION_DAYS",
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
        "PASSWORD_HASH_METHOD": "scrypt",
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
        # Security log rows older than this are deleted (security_log.delete_expired).
        "SECURITY_LOG_RETENTION_DAYS": int(env.get("SECURITY_LOG_RETENTION_DAYS", "400")),
    }
    config["SESSION_COOKIE_SECURE"] = config["OAUTH_ISSUER"].startswith("https://")
    from_env = {
        "SECRET_KEY": env.get("SECRET_KEY"),
        "TOKEN_ENCRYPTION_KEY": env.get("TOKEN_ENCRYPTION_KEY"),
    }
    config.update({key: value for key, value in from_env.items() if value})
    config.update(overrides)
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


def _engine_options(url: str) -> dict[str, Any]:
    # hide_parameters: SQL parameters (e-mail addresses, hashes) stay out of the messages
    # of database errors, and so out of the logs.
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    # No pool_pre_ping: a connection the database dropped (a restart) is still replaced at
    # checkout instead of failing the request that drew it, by connections.check_at_checkout,
    # which spends no round trip on a connection in use a moment before.
    return {"hide_parameters": True}
