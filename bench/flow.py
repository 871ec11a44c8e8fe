"""What a person and a partner app do over HTTP, with requests: sign in, consent, exchange.

The partner grant of the benchmark comes from the real authorization-code flow (log in,
the consent page's form with its CSRF token, then ``/oauth/token``), and the session
cookie of the token list page from the real sign-in form.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
TIMEOUT = 30


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    if match is None:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1) or match.group(2)


def _check(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:300]}")
    return response


def sign_in(base_url: str, email: str, password: str) -> requests.Session:
    """A browser-like session signed in through the login form."""
    session = requests.Session()
    page = _check(session.get(base_url + "/login", timeout=TIMEOUT), 200, "GET /login")
    answer = session.post(
        base_url + "/login",
        data={"csrf_token": _csrf(page.text), "email": email, "password": password, "next": ""},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    _check(answer, 302, "POST /login")
    return session


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


@dataclass
class Grant:
    access_token: str
    refresh_token: str
    scope: str


def authorize(
    session: requests.Session,
    base_url: str,
    *,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    scope: str,
) -> Grant:
    """The authorization-code flow with PKCE: consent page, Allow, code, token endpoint."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    url = f"{base_url}/oauth/authorize?{query}"
    page = _check(session.get(url, timeout=TIMEOUT), 200, "GET /oauth/authorize")
    answer = session.post(
        url,
        data={"csrf_token": _csrf(page.text), "decision": "allow"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    _check(answer, 302, "POST /oauth/authorize")
    location = answer.headers["Location"]
    params = parse_qs(urlsplit(location).query)
    if params.get("state") != [state] or "code" not in params:
        raise RuntimeError(f"consent did not redirect with a code: {location[:200]}")
    token = requests.post(
        base_url + "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        headers={"Authorization": basic_auth(client_id, client_secret)},
        timeout=TIMEOUT,
    )
    data: dict[str, Any] = _check(token, 200, "POST /oauth/token").json()
    return Grant(data["access_token"], data["refresh_token"], data.get("scope", ""))


def api(base_url: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    answer = requests.request(
        method,
        base_url + "/api/v1" + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
        **kwargs,
    )
    if answer.status_code >= 400:
        raise RuntimeError(f"{method} /api/v1{path}: {answer.status_code} {answer.text[:300]}")
    return answer.json() if answer.content else None
