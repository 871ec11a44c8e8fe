"""Absolute URLs of our own routes, built on the configured issuer.

A link we hand out (a next page, a ``Location``, a SCIM ``meta.location``) names the
server as ``OAUTH_ISSUER`` says, never as the request's ``Host`` or ``X-Forwarded-Host``
does: those are the client's to write, and a forged one would otherwise travel on in
our answers (and in any cache in front of us).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import has_request_context
from flask import request
from flask import url_for


def issuer() -> str:
    """The server's public base URL, without a trailing slash."""
    value: str = current_app.config["OAUTH_ISSUER"]
    return value.rstrip("/")


def external_url(endpoint: str, **values: Any) -> str:
    """The issuer followed by the path of ``endpoint``, in a request or out of one (a job,
    a command).

    The issuer is the app's public base URL, its mount point included: the path is
    taken without the request's own script root, which the issuer already names.
    """
    if not has_request_context():
        # A job or a command: the path from the app's URL map alone.
        path: str = current_app.url_map.bind("", url_scheme="https").build(endpoint, values)
        return issuer() + path
    path = url_for(endpoint, **values)
    if request.script_root and path.startswith(request.script_root):
        path = path[len(request.script_root) :]
    return issuer() + path
