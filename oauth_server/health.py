"""Liveness and readiness: ``/healthz`` touches nothing, ``/readyz`` asks the database."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from oauth_server.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers: a load balancer keeps it; it does not depend on the database."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    """The process can serve: the database answers ``SELECT 1``; else 503, never a trace."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError as error:
        log.warning("not ready: database unreachable", extra={"error": type(error).__name__})
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
