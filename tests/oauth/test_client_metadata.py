"""Client ID Metadata Documents: an app whose client_id is an https URL is the document at
that URL, fetched by the safe outbound fetcher and checked before any consent.

Every request of these tests goes to a server on 127.0.0.1 (``OUTBOUND_ALLOW_LOOPBACK``
on); the private and link-local addresses are stand-ins for DNS, never connected to.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from oauth_server import outbound
from oauth_server.models import OAuthClient
from oauth_server.services import client_metadata
from tests.conftest import bearer
from tests.conftest import csrf_from
from tests.conftest import login
from tests.conftest import post_form
from tests.flows import error_page
from tests.flows import pkce
from tests.flows import redirect_params
from tests.isolation import count

REGISTERED_REDIRECT = "http://127.0.0.1/callback"
API_PAGE = "/settings/plugins-api/api"


@dataclass
class Behaviour:
    """What the document server answers, and the paths it was asked for."""

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)


class DocumentServer:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        behaviour = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                behaviour.answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}/client.json"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def document(self, **changes: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "client_id": self.url,
            "client_name": "Agent Tool",
            "redirect_uris": [REGISTERED_REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }
        doc.update(changes)
        return {k: v for k, v in doc.items() if v is not None}

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        b = self.behaviour
        b.requests.append(handler.path)
        if b.delay:
            time.sleep(b.delay)
        body = b.body if b.body is not None else json.dumps(self.document()).encode()
        handler.send_response(b.status)
        headers = {"Content-Type": "application/json", **b.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            handler.wfile.write(body)
        except OSError:
            pass

    @property
    def fetches(self) -> int:
        return len(self.behaviour.requests)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def docs() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.stop()


@pytest.fixture
def loopback(app: Flask) -> None:
    """Outbound requests may reach 127.0.0.1 (the test config is restored after the test)."""
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = True


def authorize_url(client_id: str, challenge: str, port: int | None = None) -> str:
    port = port or random.randint(20000, 60000)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": f"http://127.0.0.1:{port}/callback",
        "scope": "shared",
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return "/oauth/authorize?" + urlencode(params)


def refused(client: FlaskClient, client_id: str, reason: str) -> None:
    """The authorization request is an error page (never a redirect) saying why."""
    _verifier, challenge = pkce()
    html = error_page(client.get(authorize_url(client_id, challenge)), "invalid_client")
    assert "metadata document could not be used" in html
    assert reason in html, html[:1500]


@pytest.fixture
def signed_in(client: FlaskClient, workspace: Any) -> FlaskClient:
    login(client, workspace.admin.email)
    return client


def _allow_and_redeem(
    client: FlaskClient, docs: DocumentServer, url: str, html: str, port: int, verifier: str
) -> dict[str, Any]:
    """Press Allow on the consent page ``html`` of ``url``, then redeem the code as the
    public app the document describes (no secret, PKCE); the token response."""
    answer = client.post(url, data={"csrf_token": csrf_from(html), "decision": "allow"})
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    code = redirect_params(answer, redirect_uri)["code"]
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": docs.url,
        },
    )
    assert token.status_code == 200, token.get_json()
    result: dict[str, Any] = token.get_json()
    return result


# --- the whole flow ---------------------------------------------------------------------------


@pytest.mark.usefixtures("loopback")
def test_an_app_known_by_its_document_connects_and_is_revoked_like_any_other(
    signed_in: FlaskClient, docs: DocumentServer, workspace: Any
) -> None:
    client = signed_in
    verifier, challenge = pkce()
    port = random.randint(20000, 60000)
    url = authorize_url(docs.url, challenge, port)

    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:800]
    html = page.get_data(as_text=True)
    assert "Agent Tool" in html
    assert "from 127.0.0.1</span>" in html
    assert f"<strong>127.0.0.1:{port}</strong>" in html  # where the browser goes

    access = _allow_and_redeem(client, docs, url, html, port, verifier)["access_token"]
    assert client.get("/api/v1/me", headers=bearer(access)).status_code == 200
    assert docs.fetches == 1

    listing = client.get(API_PAGE).get_data(as_text=True)
    assert "Agent Tool (127.0.0.1)" in listing
    assert count(OAuthClient) == 1
    grant_id = _only_grant_id()
    revoke = post_form(
        client,
        f"{API_PAGE}/apps/{grant_id}",
        f"{API_PAGE}/apps/{grant_id}/revoke",
        {},
    )
    assert revoke.status_code == 302
    assert client.get("/api/v1/me", headers=bearer(access)).status_code == 401


def _only_grant_id() -> int:
    from sqlalchemy import select

    from oauth_server.extensions import db
    from oauth_server.models import OAuthGrant

    ids = list(db.session.scalars(select(OAuthGrant.id)))
    assert len(ids) == 1
    return ids[0]


def test_the_metadata_advertises_client_id_metadata_documents(client: FlaskClient) -> None:
    body = client.get("/.well-known/oauth-authorization-server").get_json()
    assert body["client_id_metadata_document_supported"] is True


# --- documents refused ------------------------------------------------------------------------

DOCUMENT_REFUSALS = {
    "other-client-id": (
        {"client_id": "https://elsewhere.example/client.json"},
        "client_id is not the URL",
    ),
    "no-client-name": ({"client_name": None}, "client_name"),
    "empty-client-name": ({"client_name": "  "}, "client_name"),
    "confidential": ({"token_endpoint_auth_method": "client_secret_basic"}, "public client"),
    "no-auth-method": ({"token_endpoint_auth_method": None}, "public client"),
    "client-secret": ({"client_secret": "s3cret"}, "client secret"),
    "no-redirect-uris": ({"redirect_uris": None}, "redirect_uris"),
    "bad-redirect-uri": ({"redirect_uris": ["http://evil.example/cb"]}, "redirect URI"),
}


@pytest.mark.usefixtures("loopback")
@pytest.mark.parametrize(("changes", "reason"), DOCUMENT_REFUSALS.values(), ids=DOCUMENT_REFUSALS)
def test_a_document_that_does_not_describe_a_public_app_is_refused(
    signed_in: FlaskClient, docs: DocumentServer, changes: dict[str, Any], reason: str
) -> None:
    docs.behaviour.body = json.dumps(docs.document(**changes)).encode()
    refused(signed_in, docs.url, reason)
    assert count(OAuthClient) == 0


ANSWER_REFUSALS = {
    "redirect": (
        {"status": 302, "headers": {"Location": "http://127.0.0.1:1/other.json"}},
        "redirect",
    ),
    "not-found": ({"status": 404}, "status 404"),
    "oversized": ({"body": b" " * (64 * 1024 + 1)}, "larger than 64 KiB"),
    "not-json-type": ({"headers": {"Content-Type": "text/html"}}, "not application/json"),
    "not-json-body": ({"body": b"<html>hello</html>"}, "not valid JSON"),
    "not-an-object": ({"body": b"[1, 2]"}, "not a JSON object"),
}


@pytest.mark.usefixtures("loopback")
@pytest.mark.parametrize(("behaviour", "reason"), ANSWER_REFUSALS.values(), ids=ANSWER_REFUSALS)
def test_an_answer_that_is_no_document_is_refused(
    signed_in: FlaskClient, docs: DocumentServer, behaviour: dict[str, Any], reason: str
) -> None:
    for name, value in behaviour.items():
        setattr(docs.behaviour, name, value)
    refused(signed_in, docs.url, reason)
    assert docs.behaviour.requests == ["/client.json"]  # no redirect followed


@pytest.mark.usefixtures("loopback")
def test_a_slow_document_times_out(
    signed_in: FlaskClient, docs: DocumentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbound, "TOTAL_TIMEOUT", 0.5)
    docs.behaviour.delay = 1.5
    started = time.monotonic()
    refused(signed_in, docs.url, "timed out")
    assert time.monotonic() - started < 1.5


URL_REFUSALS = {
    "no-path": ("https://agent.example", "path"),
    "root-path": ("https://agent.example/", "path"),
    "dot-segment": ("https://agent.example/a/../client.json", "path segments"),
    "userinfo": ("https://user@agent.example/client.json", "user name"),
    "plain-http": ("http://agent.example/client.json", "https"),
    "too-long": ("https://agent.example/" + "a" * 260, "at most"),
}


@pytest.mark.usefixtures("loopback")
@pytest.mark.parametrize(("url", "reason"), URL_REFUSALS.values(), ids=URL_REFUSALS)
def test_a_client_id_url_the_draft_forbids_is_refused_unfetched(
    signed_in: FlaskClient, url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbound, "resolve", _no_resolution)
    refused(signed_in, url, reason)


def _no_resolution(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolved {host}")


# --- addresses refused -----------------------------------------------------------------------


def test_a_loopback_document_is_refused_without_the_development_setting(
    signed_in: FlaskClient, docs: DocumentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused(signed_in, docs.url, "https")
    https_url = f"https://127.0.0.1:{docs.port}/client.json"
    refused(signed_in, https_url, "private, loopback or link-local")
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    refused(signed_in, f"https://agent.example:{docs.port}/client.json", "loopback")
    assert docs.fetches == 0


PRIVATE_ADDRESSES = ["10.0.0.1", "169.254.169.254", "192.168.1.1", "::1", "fc00::1", "fe80::1"]


# With the development setting on, loopback is what it allows: every other case is refused.
PRIVATE_CASES = [
    pytest.param(address, allow, id=f"{address}-{'loopback-allowed' if allow else 'default'}")
    for address in PRIVATE_ADDRESSES
    for allow in (False, True)
    if not (allow and address == "::1")
]


@pytest.mark.parametrize(("address", "allow_loopback"), PRIVATE_CASES)
def test_a_host_resolving_to_a_private_address_is_never_connected_to(
    app: Flask,
    signed_in: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    address: str,
    allow_loopback: bool,
) -> None:
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = allow_loopback
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.215.14", address])
    monkeypatch.setattr(outbound, "_pool", _no_connection)
    refused(signed_in, "https://agent.example/client.json", "private, loopback or link-local")


def _no_connection(*args: Any) -> Any:
    raise AssertionError("connected")


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:4700::1"], ids=["public-v4", "public-v6"]
)
def test_a_public_address_is_allowed(address: str) -> None:
    import ipaddress

    checked = ipaddress.ip_address(address)
    assert not outbound.is_refused_address(checked, loopback_allowed=False)


@pytest.mark.parametrize(
    "address", [*PRIVATE_ADDRESSES, "::ffff:10.0.0.1", "0.0.0.0", "224.0.0.1", "100.64.0.1"]
)
def test_every_non_public_address_is_refused(address: str) -> None:
    import ipaddress

    checked = ipaddress.ip_address(address)
    assert outbound.is_refused_address(checked, loopback_allowed=False)


# --- caching and limits -------------------------------------------------------------------


@pytest.mark.usefixtures("loopback")
def test_two_authorizations_fetch_the_document_once(
    signed_in: FlaskClient, docs: DocumentServer
) -> None:
    docs.behaviour.headers = {"Cache-Control": "max-age=600"}
    for _ in range(2):
        _verifier, challenge = pkce()
        assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200
    assert docs.fetches == 1


@pytest.mark.usefixtures("loopback")
@pytest.mark.parametrize("cache_control", ["max-age=0", "no-store", "no-cache"])
def test_a_document_not_to_be_cached_is_kept_the_minimum(
    signed_in: FlaskClient, docs: DocumentServer, clock: Any, cache_control: str
) -> None:
    docs.behaviour.headers = {"Cache-Control": cache_control}
    _verifier, challenge = pkce()
    assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200
    assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200
    assert docs.fetches == 1
    clock.advance(client_metadata.MIN_CACHE.total_seconds() + 1)
    assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200
    assert docs.fetches == 2


@pytest.mark.parametrize(
    ("cache_control", "seconds"),
    [
        ("", 3600),
        ("max-age=60", 300),
        ("public, max-age=7200", 7200),
        ("max-age=999999", 86400),
        ("no-store", 300),
    ],
)
def test_cache_lifetimes_stay_within_bounds(cache_control: str, seconds: int) -> None:
    assert client_metadata.cache_for(cache_control).total_seconds() == seconds


@pytest.mark.usefixtures("loopback")
def test_a_changed_document_is_read_again_once_expired(
    signed_in: FlaskClient, docs: DocumentServer, clock: Any
) -> None:
    _verifier, challenge = pkce()
    assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200
    docs.behaviour.body = json.dumps(docs.document(client_name="Renamed Tool")).encode()
    clock.advance(3601)
    page = signed_in.get(authorize_url(docs.url, challenge)).get_data(as_text=True)
    assert "Renamed Tool" in page


@pytest.mark.usefixtures("loopback")
def test_a_failed_fetch_is_not_cached(signed_in: FlaskClient, docs: DocumentServer) -> None:
    docs.behaviour.status = 500
    refused(signed_in, docs.url, "status 500")
    assert count(OAuthClient) == 0
    docs.behaviour.status = 200
    _verifier, challenge = pkce()
    assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200
    assert docs.fetches == 2


@pytest.mark.usefixtures("loopback")
def test_an_expired_document_that_fails_is_refused(
    signed_in: FlaskClient, docs: DocumentServer, clock: Any
) -> None:
    _verifier, challenge = pkce()
    assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200
    docs.behaviour.status = 404
    assert signed_in.get(authorize_url(docs.url, challenge)).status_code == 200  # still fresh
    clock.advance(3601)
    refused(signed_in, docs.url, "status 404")


@pytest.mark.usefixtures("loopback")
def test_fetches_per_host_are_limited(
    app: Flask, signed_in: FlaskClient, docs: DocumentServer
) -> None:
    app.config["OUTBOUND_FETCHES_PER_HOST"] = "2 per minute"
    docs.behaviour.status = 500
    for _ in range(2):
        refused(signed_in, docs.url, "status 500")
    refused(signed_in, docs.url, "Too many metadata documents fetched from 127.0.0.1")
    assert docs.fetches == 2


@pytest.mark.usefixtures("loopback")
def test_the_token_endpoint_uses_the_stored_document_and_fetches_nothing(
    signed_in: FlaskClient, docs: DocumentServer, clock: Any
) -> None:
    verifier, challenge = pkce()
    port = random.randint(20000, 60000)
    url = authorize_url(docs.url, challenge, port)
    html = signed_in.get(url).get_data(as_text=True)
    token = _allow_and_redeem(signed_in, docs, url, html, port, verifier)
    docs.behaviour.status = 500
    clock.advance(2 * 24 * 3600)
    refreshed = signed_in.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": docs.url,
        },
    )
    assert refreshed.status_code == 200, refreshed.get_json()
    assert docs.fetches == 1
