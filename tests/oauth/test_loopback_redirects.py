"""Loopback redirect URIs match on any port (RFC 8252 §7.3, OAuth 2.1); all else exactly.

A native app listens on a port the system gives it at run time, so it registers
``http://127.0.0.1/callback`` and sends ``http://127.0.0.1:<port>/callback``. Only the port
is free: the scheme, host as written, path and query still match exactly, and the token
request repeats the exact string the authorization request used.
"""

from __future__ import annotations

import random

import pytest

from oauth_server.errors import ValidationFailed
from oauth_server.models import AuthorizationCode
from oauth_server.models import OAuthToken
from oauth_server.models.clients import redirect_uri_matches
from oauth_server.services import clients
from tests.conftest import login
from tests.factories import Partner
from tests.factories import register
from tests.flows import authorize_url
from tests.flows import consent
from tests.flows import error_page
from tests.flows import exchange
from tests.flows import me_status
from tests.flows import oauth_error
from tests.flows import pkce
from tests.flows import redirect_params
from tests.isolation import count

REGISTERED = "http://127.0.0.1/callback"
HOSTS = ("127.0.0.1", "[::1]", "localhost")

MATCHES = {
    "no-port-then-a-port": (REGISTERED, "http://127.0.0.1:49152/callback"),
    "no-port-exactly": (REGISTERED, REGISTERED),
    "lowest-port": (REGISTERED, "http://127.0.0.1:1/callback"),
    "highest-port": (REGISTERED, "http://127.0.0.1:65535/callback"),
    "registered-port-then-another": ("http://127.0.0.1:8000/cb", "http://127.0.0.1:51000/cb"),
    "registered-port-then-none": ("http://127.0.0.1:8000/cb", "http://127.0.0.1/cb"),
    "ipv6": ("http://[::1]/cb", "http://[::1]:8080/cb"),
    "ipv6-registered-port": ("http://[::1]:8080/cb", "http://[::1]:9090/cb"),
    "localhost": ("http://localhost/cb", "http://localhost:8080/cb"),
    "same-query": ("http://127.0.0.1/cb?tenant=acme", "http://127.0.0.1:8080/cb?tenant=acme"),
    "no-path": ("http://127.0.0.1", "http://127.0.0.1:8080"),
    "non-loopback-exactly": ("https://partner.example/cb", "https://partner.example/cb"),
}

NO_MATCHES = {
    # Everything but the port matches exactly.
    "trailing-slash": (REGISTERED, "http://127.0.0.1:49152/callback/"),
    "trailing-slash-registered": ("http://127.0.0.1/callback/", "http://127.0.0.1:1/callback"),
    "path-case": (REGISTERED, "http://127.0.0.1:49152/Callback"),
    "path-dots": (REGISTERED, "http://127.0.0.1:49152/x/../callback"),
    "added-query": (REGISTERED, "http://127.0.0.1:49152/callback?a=1"),
    "dropped-query": ("http://127.0.0.1/cb?a=1", "http://127.0.0.1:49152/cb"),
    "empty-query": (REGISTERED, "http://127.0.0.1:49152/callback?"),
    "other-query": ("http://127.0.0.1/cb?a=1", "http://127.0.0.1:49152/cb?a=2"),
    "fragment": (REGISTERED, "http://127.0.0.1:49152/callback#x"),
    "https": (REGISTERED, "https://127.0.0.1:49152/callback"),
    "scheme-case": (REGISTERED, "HTTP://127.0.0.1:49152/callback"),
    "userinfo": (REGISTERED, "http://user@127.0.0.1:49152/callback"),
    "userinfo-looks-like-port": (REGISTERED, "http://127.0.0.1:1@evil.example/callback"),
    # Hosts as written: only the three literal hosts are loopback here.
    "host-case-registered": ("http://LOCALHOST/cb", "http://LOCALHOST:8080/cb"),
    "host-case-presented": ("http://localhost/cb", "http://LOCALHOST:8080/cb"),
    "host-case-no-port": ("http://localhost/cb", "http://Localhost/cb"),
    "ipv6-long-form": ("http://[::1]/cb", "http://[0:0:0:0:0:0:0:1]:8080/cb"),
    "other-loopback-address": ("http://127.0.0.1/cb", "http://127.0.0.2:8080/cb"),
    "trailing-dot": ("http://127.0.0.1/cb", "http://127.0.0.1.:8080/cb"),
    "loopback-prefix-of-a-domain": ("http://127.0.0.1/cb", "http://127.0.0.1.example.com/cb"),
    # https on loopback and every other host: exact string only.
    "https-loopback-port": ("https://127.0.0.1/cb", "https://127.0.0.1:8443/cb"),
    "https-loopback-other-port": ("https://localhost:8443/cb", "https://localhost:8444/cb"),
    "domain-like-loopback": (
        "http://127.0.0.1.example.com/cb",
        "http://127.0.0.1.example.com:8080/cb",
    ),
    "https-default-port": ("https://partner.example/cb", "https://partner.example:443/cb"),
    "https-other-port": ("https://partner.example:8443/cb", "https://partner.example:8444/cb"),
    # A port that is not a port.
    "port-zero": (REGISTERED, "http://127.0.0.1:0/callback"),
    "port-zero-registered-port": ("http://127.0.0.1:8000/cb", "http://127.0.0.1:0/cb"),
    "port-too-large": (REGISTERED, "http://127.0.0.1:65536/callback"),
    "port-far-too-large": (REGISTERED, "http://127.0.0.1:99999/callback"),
    "port-too-long": (REGISTERED, "http://127.0.0.1:000080/callback"),
    "port-letters": (REGISTERED, "http://127.0.0.1:abc/callback"),
    "port-empty": (REGISTERED, "http://127.0.0.1:/callback"),
    "port-negative": (REGISTERED, "http://127.0.0.1:-1/callback"),
    "port-plus": (REGISTERED, "http://127.0.0.1:+80/callback"),
    "port-space": (REGISTERED, "http://127.0.0.1: 80/callback"),
    "port-non-ascii-digits": (REGISTERED, "http://127.0.0.1:\u0668\u0660/callback"),
    "two-ports": (REGISTERED, "http://127.0.0.1:80:80/callback"),
    "ipv6-unbracketed-port": ("http://[::1]/cb", "http://[::1]8080/cb"),
}


def other_hosts() -> list[tuple[str, str]]:
    pairs = [(a, b) for a in HOSTS for b in HOSTS if a != b]
    return [
        (f"http://{a}{rp}/cb", f"http://{b}{pp}/cb")
        for a, b in pairs
        for rp, pp in (("", ""), ("", ":8080"), (":8080", ":8080"))
    ]


@pytest.mark.parametrize(("registered", "presented"), list(MATCHES.values()), ids=list(MATCHES))
def test_a_loopback_uri_matches_on_any_port(registered, presented):
    assert redirect_uri_matches(registered, presented)


@pytest.mark.parametrize(
    ("registered", "presented"), list(NO_MATCHES.values()), ids=list(NO_MATCHES)
)
def test_everything_but_a_loopback_port_matches_exactly(registered, presented):
    assert not redirect_uri_matches(registered, presented)


@pytest.mark.parametrize(("registered", "presented"), other_hosts())
def test_the_loopback_hosts_never_stand_in_for_one_another(registered, presented):
    assert not redirect_uri_matches(registered, presented)


@pytest.mark.parametrize("form", ["row", "active"])
def test_both_forms_of_an_app_use_the_rule(form):
    partner = register(redirect_uris=["https://partner.example/cb", REGISTERED])
    app = partner.row if form == "row" else clients.find_active(partner.client_id)
    assert app is not None

    assert app.check_redirect_uri("http://127.0.0.1:49152/callback")
    assert app.check_redirect_uri("https://partner.example/cb")
    assert not app.check_redirect_uri("http://localhost:49152/callback")
    assert not app.check_redirect_uri("https://partner.example:8443/cb")


@pytest.mark.parametrize(
    "uri",
    [
        REGISTERED,
        "http://127.0.0.1:8000/cb",
        "http://[::1]/cb",
        "http://[::1]:8080/cb",
        "http://localhost/cb",
        "http://localhost:1234/cb",
    ],
)
def test_a_loopback_uri_registers_with_or_without_a_port(uri):
    partner = register(redirect_uris=[uri])

    assert partner.row.redirect_uris == [uri]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://127.0.0.1.example.com/cb", "plain http"),
        ("http://127.0.0.2/cb", "plain http"),
        ("http://127.0.0.1:0/cb", "port"),
        ("http://127.0.0.1:99999/cb", "port"),
        ("http://[::1]:abc/cb", "port"),
        ("http://localhost:/cb", "port"),
        ("http://user@127.0.0.1/cb", "user name"),
    ],
)
def test_registration_keeps_refusing_what_is_not_a_loopback_uri(uri, message):
    with pytest.raises(ValidationFailed, match=message):
        clients.validate_redirect_uri(uri)


def authorize(client, partner: Partner, redirect_uri: str) -> tuple[str, str]:
    """Consent at ``redirect_uri`` (signed in already); (code, verifier) sent back there."""
    verifier, challenge = pkce()
    url = authorize_url(partner, "shared", challenge, redirect_uri=redirect_uri)
    params = redirect_params(consent(client, url), redirect_uri)
    assert params["state"] == "state-123"
    return params["code"], verifier


@pytest.mark.parametrize("host", HOSTS)
def test_the_authorization_response_goes_to_the_port_the_app_sent(client, workspace, host):
    partner = register(public=True, redirect_uris=[f"http://{host}/callback"])
    login(client, workspace.admin.email)
    used = f"http://{host}:49152/callback"
    _, challenge = pkce()

    page = client.get(authorize_url(partner, "shared", challenge, redirect_uri=used))

    assert page.status_code == 200
    assert f"<strong>{host}:49152</strong>" in page.get_data(as_text=True)
    code, _ = authorize(client, partner, used)
    assert code


LOOPBACK_NEAR_MISSES = [
    "http://localhost:49152/callback",
    "http://[::1]:49152/callback",
    "https://127.0.0.1:49152/callback",
    "http://127.0.0.1:49152/callback/",
    "http://127.0.0.1:49152/callback?a=1",
    "http://127.0.0.1:0/callback",
    "http://127.0.0.1:99999/callback",
    "http://127.0.0.1:abc/callback",
    "http://127.0.0.1:/callback",
    "http://127.0.0.1:1@evil.example/callback",
]


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
@pytest.mark.parametrize("redirect_uri", LOOPBACK_NEAR_MISSES)
def test_a_near_miss_of_a_loopback_uri_gets_an_error_page(
    client, workspace, redirect_uri, signed_in
):
    partner = register(public=True, redirect_uris=[REGISTERED])
    _, challenge = pkce()
    if signed_in:
        login(client, workspace.admin.email)

    response = client.get(authorize_url(partner, "shared", challenge, redirect_uri=redirect_uri))

    error_page(response, "invalid_request")
    assert count(AuthorizationCode) == 0


@pytest.mark.parametrize(
    "redirect_uri", ["https://partner.example:8443/cb", "http://partner.example/cb"]
)
def test_a_non_loopback_uri_on_another_port_or_scheme_gets_an_error_page(
    client, workspace, redirect_uri
):
    partner = register(redirect_uris=["https://partner.example/cb"])
    _, challenge = pkce()
    login(client, workspace.admin.email)

    response = client.get(authorize_url(partner, "shared", challenge, redirect_uri=redirect_uri))

    error_page(response, "invalid_request")


@pytest.mark.parametrize("public", [True, False], ids=["public", "confidential"])
def test_a_native_app_on_a_random_port_gets_tokens_with_the_exact_uri(client, workspace, public):
    partner = register(public=public, redirect_uris=[REGISTERED])
    port = random.randint(1024, 65535)
    used = f"http://127.0.0.1:{port}/callback"
    login(client, workspace.admin.email)

    code, verifier = authorize(client, partner, used)
    response = exchange(client, partner, code, verifier, redirect_uri=used)

    assert response.status_code == 200, response.get_json()
    assert me_status(client, response.get_json()["access_token"]) == 200


def another_port_than(port: int) -> int:
    return port + 1 if port < 65535 else port - 1


@pytest.mark.parametrize(
    "redeemed_with",
    [
        lambda port: f"http://127.0.0.1:{another_port_than(port)}/callback",
        lambda port: REGISTERED,
        lambda port: f"http://localhost:{port}/callback",
        lambda port: f"http://127.0.0.1:{port}/callback/",
    ],
    ids=["another-port", "registered-uri", "another-host", "another-path"],
)
def test_the_token_request_must_repeat_the_exact_uri(client, workspace, redeemed_with):
    partner = register(public=True, redirect_uris=[REGISTERED])
    port = random.randint(1024, 65535)
    login(client, workspace.admin.email)
    code, verifier = authorize(client, partner, f"http://127.0.0.1:{port}/callback")

    response = exchange(client, partner, code, verifier, redirect_uri=redeemed_with(port))

    oauth_error(response, "invalid_grant")
    assert count(OAuthToken) == 0
