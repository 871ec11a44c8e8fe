"""Strict reading of the protocol's requests, before Authlib's request adapter sees them.

Authlib's ``FlaskOAuth2Request`` reads ``request.form`` and ``request.args`` as Werkzeug
parsed them, leniently: invalid UTF-8 empties the form or is kept as ``%FF``, a repeated
parameter is only a second value, and a malformed Basic header is decoded without
catching errors. The views ask here first, and refuse what these functions name.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl
from urllib.parse import unquote

from flask import request
from werkzeug.datastructures import ImmutableMultiDict

PARAM_MAX = 4096
PARAMS_MAX = 30
NAME_MAX = 100
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Parameters a request may repeat: RFC 8707 §2 names one resource per ``resource``.
REPEATABLE = frozenset({"resource"})


def body() -> bytes:
    """The raw request body, read once and kept: ``request.form`` is then parsed from it."""
    data: bytes = request.get_data(cache=True)
    return data


def query_problem() -> str | None:
    """What is wrong with the query string of an authorization request, if anything."""
    for values in request.args.listvalues():  # a repeated key's every value too
        if any(len(value) > PARAM_MAX for value in values):
            return "A parameter is too long."
    return None


def form_problem() -> str | None:
    """What is wrong with a token/revoke/introspect request body, if anything (RFC 6749 §3.2).

    Checked strictly here, before Authlib reads ``request.form``. A body found right is
    ``request.form`` from then on, as parsed here: Werkzeug does not parse it again.
    """
    if request.mimetype != "application/x-www-form-urlencoded":
        return "Send parameters as application/x-www-form-urlencoded."
    if request.args:
        return "Send parameters in the request body, not the URL."
    try:
        pairs = parse_qsl(
            body().decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        return "Parameters must be UTF-8."
    if len(pairs) > PARAMS_MAX:
        return "Too many parameters."
    seen: set[str] = set()
    for key, value in pairs:
        if len(value) > PARAM_MAX or len(key) > NAME_MAX:
            return "A parameter is too long."
        if CONTROL.search(key) or CONTROL.search(value):
            return "Parameters must not contain control characters."
        if key in seen and key not in REPEATABLE:
            return f"Parameter {key[:40]!r} appears more than once."  # RFC 6749 §3.1
        seen.add(key)
    # Strict UTF-8, no control characters and at most one value per name but ``resource``:
    # what Werkzeug's lenient parser would make of it too (a cached property, set once).
    request.form = ImmutableMultiDict(pairs)
    return None


def malformed_basic() -> bool:
    """Whether the request has a Basic header Authlib would choke on (it decodes without
    catching errors): not base64, not UTF-8, badly percent-encoded or with controls."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        parts = [unquote(part, errors="strict") for part in decoded.split(":", 1)]
    except (binascii.Error, UnicodeDecodeError):
        return True
    return any(CONTROL.search(part) for part in parts)
