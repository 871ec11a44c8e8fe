"""Rate-limit budgets that depend on who is calling, spent once that is known.

Flask-Limiter checks the limits of a view or blueprint in a ``before_request`` hook of
the app, before our blueprints authenticate anyone. The budgets here need the caller, so
they are limits on plain functions (Flask-Limiter checks those when they are called, in
the request): the API calls ``spend_api`` right after authentication, the token endpoint
calls ``spend_token_issue`` once it knows the company of the code or refresh token.

Keys name ids, never token strings or e-mail addresses: Flask-Limiter writes a breached
key into its log line, and Redis keeps every key in the clear. A bearer request is keyed
by its token's id once authenticated; one whose token does not authenticate (unknown,
malformed, spelled in any case or spacing) spends its address's budget, so an attacker
spraying made-up tokens meets one budget, not a fresh one per guess. Authentication
comes first because it is cheap: a checksum, then one indexed lookup.

A breach raises Flask-Limiter's ``RateLimitExceeded``
(a 429); each surface answers it in its own format, and Flask-Limiter adds
``Retry-After`` and ``X-RateLimit-*`` to the answer.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from flask import g

from oauth_server.extensions import limiter
from oauth_server.extensions import remote_address
from oauth_server.services.principals import Principal


def _principal() -> Principal | None:
    principal: Principal | None = g.get("caller")
    return principal


def token_key() -> str:
    """Per token (its id); per address for a request whose token did not authenticate."""
    principal = _principal()
    if principal is None:
        return "api-address:" + remote_address()
    return f"api-token:{principal.kind}:{principal.token_id}"


def account_key(email: str) -> str:
    """A sign-in name as a rate-limit key: a keyed hash of its normalized form.

    Keyed (SECRET_KEY), so that the key in the log or in Redis cannot be matched against
    a list of addresses; every process of a deployment shares the key, so the budget.
    """
    normalized = (email or "").strip().lower()[:320]
    secret = current_app.config["SECRET_KEY"]
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, normalized.encode("utf-8", "replace"), hashlib.sha256)
    return "login-account:" + digest.hexdigest()[:32]


def api_company_key() -> str:
    """Per company: its personal tokens share one budget, each partner app has its own."""
    principal = _principal()
    assert principal is not None  # exempt otherwise
    if principal.app is None:
        return f"company:{principal.company.id}:personal"
    return f"company:{principal.company.id}:partner:{principal.app.client_id}"


def api_company_limit() -> str:
    principal = _principal()
    key = "RATELIMIT_API_PARTNER" if principal and principal.app else "RATELIMIT_API_COMPANY"
    limit: str = current_app.config[key]
    return limit


# Stacked limits are checked in the order they are declared, bottom-up here: the token's
# budget first, so it is the one the X-RateLimit-* headers describe until one is spent.
@limiter.shared_limit(
    api_company_limit,
    scope="api-company",
    key_func=api_company_key,
    exempt_when=lambda: _principal() is None,
)
@limiter.shared_limit(lambda: current_app.config["RATELIMIT_API"], scope="api", key_func=token_key)
def _spend_api() -> None:
    pass


def spend_api(principal: Principal | None) -> None:
    """One API call: the token's budget and its company's (personal or this partner's);
    the address's budget for a request whose token did not authenticate (``None``).

    Shared limits: one budget across every route of the API, not one per route. With
    RATELIMIT_ENABLED off, nothing (Flask-Limiter's decorated functions would still look
    their limits up).
    """
    if limiter.enabled:
        g.caller = principal
        _spend_api()


def _token_company_key() -> str:
    return f"company:{g.token_company_id}"


@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_TOKEN_COMPANY"],
    scope="oauth-token-company",
    key_func=_token_company_key,
)
def _spend_token_issue() -> None:
    pass


def spend_token_issue(company_id: int) -> None:
    """Tokens issued to a company at ``/oauth/token``, by all partner apps together.

    Called in the grant, after the client authenticated and the code or refresh token
    named the company; a breach raises before the exchange commits, so the code or
    refresh token it claimed stays unspent for a retry.
    """
    if limiter.enabled:
        g.token_company_id = company_id
        _spend_token_issue()


# --- SCIM ---------------------------------------------------------------------------------


@limiter.shared_limit(lambda: current_app.config["RATELIMIT_API"], scope="scim", key_func=token_key)
def _spend_scim() -> None:
    pass


def spend_scim(principal: Principal | None) -> None:
    """One SCIM call: the token's budget, or the address's when the token did not
    authenticate. SCIM has a budget of its own, apart from the token's API calls: an
    identity provider's sync does not starve the token's other use."""
    if limiter.enabled:
        g.caller = principal
        _spend_scim()


# --- password and code checks of signed-in or signing-in teammates ---------------------------


def _teammate_key() -> str:
    return f"teammate:{g.checked_teammate_id}"


@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN"], scope="sudo-address", key_func=remote_address
)
@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"],
    scope="sudo-account",
    key_func=_teammate_key,
)
def _spend_password_check() -> None:
    pass


def spend_password_check(teammate_id: int) -> None:
    """One "Confirm your password" (sudo mode): the budgets of sign-in, per address and
    per account, apart from sign-in's own so that neither starves the other."""
    if limiter.enabled:
        g.checked_teammate_id = teammate_id
        _spend_password_check()


@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN"],
    scope="two-factor-address",
    key_func=remote_address,
)
@limiter.shared_limit(
    lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"],
    scope="two-factor-account",
    key_func=_teammate_key,
)
def _spend_code_check() -> None:
    pass


def spend_code_check(teammate_id: int) -> None:
    """One authentication code typed at sign-in: a million six-digit codes are few, so the
    account's budget is sign-in's (RATELIMIT_LOGIN_ACCOUNT), whatever the address."""
    if limiter.enabled:
        g.checked_teammate_id = teammate_id
        _spend_code_check()
