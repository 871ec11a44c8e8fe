"""The partner demo's every way to fail, through its Flask test client: a clear page each time.

No browser. The demo app runs in-process against either the real server process (the
``stack`` fixture: answers the server really sends), a small fake workspace (answers that
are hard to provoke: a 500, a refused refresh, a wrong issuer), or nothing at all.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import pytest
import requests
from flask import Flask
from flask import jsonify
from flask import request
from flask.testing import FlaskClient

from partners_demo import create_app
from partners_demo import store
from tests.conftest import LiveServer
from tests.conftest import csrf_from
from tests.e2e.conftest import Stack
from tests.e2e.conftest import free_port

STATE_TEXT = "The sign-in answer did not match a request from this browser."
_instances = itertools.count()


@pytest.fixture
def make_demo(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Flask]:
    """A partner demo app with its own instance folder, configured for ``server_url``."""
    for name in ("SERVER_URL", "CLIENT_ID", "CLIENT_SECRET", "SCOPE", "DATABASE", "SECRET_KEY"):
        monkeypatch.delenv(f"PARTNERS_DEMO_{name}", raising=False)

    def make(server_url: str, **config: Any) -> Flask:
        monkeypatch.setenv("PARTNERS_DEMO_INSTANCE", str(tmp_path / f"demo-{next(_instances)}"))
        settings = {"CLIENT_ID": "wsp_app_demo", "CLIENT_SECRET": "wsp_ocs_secret", **config}
        return create_app({"SERVER_URL": server_url, **settings})

    return make


def sign_in(client: FlaskClient, name: str = "uma") -> None:
    """The sign-in form, with the CSRF token its page carries."""
    page = client.get("/signin").get_data(as_text=True)
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/signin", data={"username": name, "csrf": csrf}).status_code == 302


def signed_in(app: Flask, name: str = "uma") -> FlaskClient:
    client = app.test_client()
    sign_in(client, name)
    with client.session_transaction() as session:
        session["csrf"] = "csrf-token"
    return client


def start_connect(client: FlaskClient) -> str:
    """Connect your workspace: the authorization URL the demo redirects to."""
    answer = client.post("/connect", data={"csrf": "csrf-token"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"]


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def assert_clear_page(answer: Any, status: int, *texts: str) -> str:
    body: str = answer.get_data(as_text=True)
    assert answer.status_code == status, body
    assert answer.mimetype == "text/html"
    assert "Traceback" not in body and "Internal Server Error" not in body
    for text in texts:
        assert text in body
    return body


def keep_token(app: Flask, username: str, **token: Any) -> None:
    with app.app_context():
        store.save(
            username,
            {
                "access_token": "wsp_oat_old",
                "refresh_token": "wsp_ort_old",
                "token_type": "Bearer",
                "expires_at": 4_000_000_000,
                **token,
            },
        )


def kept_token(app: Flask, username: str) -> dict[str, Any] | None:
    with app.app_context():
        return store.load(username)


# --- a fake workspace, for answers the real one rarely gives ---------------------------------


class FakeWorkspace:
    """Metadata, token, revocation and three API routes, each answer set by the test."""

    def __init__(self) -> None:
        self.app = Flask("fake_workspace")
        self._lock = threading.Lock()
        self._routes()
        self.server = LiveServer(self.app)
        self.url = self.server.url
        self.reset()

    def reset(self) -> None:
        self.issuer: str | None = None  # None: its own URL
        self.live_access = {"wsp_oat_old"}
        self.api_status = 200
        self.token_answer: tuple[int, dict[str, Any]] = (
            200,
            {
                "access_token": "wsp_oat_new",
                "refresh_token": "wsp_ort_new",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )
        self.revoke_status = 200
        self.calls: list[tuple[str, dict[str, str], str | None]] = []

    def _routes(self) -> None:
        app = self.app

        @app.get("/.well-known/oauth-authorization-server")
        def metadata() -> Any:
            base = self.url
            return jsonify(
                issuer=self.issuer or base,
                authorization_endpoint=base + "/authorize",
                token_endpoint=base + "/token",
                revocation_endpoint=base + "/revoke",
                authorization_response_iss_parameter_supported=True,
            )

        @app.post("/token")
        def token() -> Any:
            self._record()
            status, body = self.token_answer
            if status == 200:
                self.live_access.add(body["access_token"])
            return jsonify(body), status

        @app.post("/revoke")
        def revoke() -> Any:
            self._record()
            return jsonify({}), self.revoke_status

        @app.get("/api/v1/me")
        @app.get("/api/v1/teams")
        @app.get("/api/v1/conversations")
        def api() -> Any:
            self._record()
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if bearer not in self.live_access:
                return jsonify(error="invalid_token"), 401
            if self.api_status != 200:
                return jsonify(error="boom"), self.api_status
            if request.path.endswith("/me"):
                return jsonify(
                    kind="oauth",
                    scopes=["shared"],
                    company={"id": 1, "name": "Fake Co"},
                    teammate={"id": 1, "email": "ada@fake.test"},
                )
            return jsonify(_results=[{"name": "Fake team", "subject": "Fake subject"}])

    def _record(self) -> None:
        with self._lock:
            auth = "basic" if request.authorization else None
            self.calls.append((request.path, request.form.to_dict(), auth))

    def paths(self) -> list[str]:
        return [path for path, _form, _auth in self.calls]


@pytest.fixture(scope="module")
def _fake_workspace() -> Iterator[FakeWorkspace]:
    workspace = FakeWorkspace()
    workspace.server.start()
    yield workspace
    workspace.server.stop()


@pytest.fixture
def fake(_fake_workspace: FakeWorkspace) -> FakeWorkspace:
    _fake_workspace.reset()
    return _fake_workspace


# --- the callback: every answer the server can send back --------------------------------------


@pytest.mark.parametrize(
    ("error", "text", "code"),
    [
        ("access_denied", "You (or the workspace) did not allow access.", "access_denied"),
        ("invalid_scope", "does not offer the permissions this app asked for", "invalid_scope"),
        ("invalid_request", "The sign-in request was not valid.", "invalid_request"),
        ("unauthorized_client", "This app may not sign in that way.", "unauthorized_client"),
        ("unsupported_response_type", "refused how this app signs in", "unsupported_response_type"),
        ("server_error", "The workspace had a problem. Try again later.", "server_error"),
        ("temporarily_unavailable", "The workspace is busy.", "temporarily_unavailable"),
        ("something_new", "The workspace refused the connection.", "something_new"),
        ("<b>odd</b>", "The workspace refused the connection.", "unknown"),
    ],
)
def test_every_error_answer_gets_a_clear_page(make_demo, fake, error, text, code):
    app = make_demo(fake.url)
    client = signed_in(app)
    state = query(start_connect(client))["state"]
    answer = client.get(
        "/callback?"
        + urlencode({"error": error, "error_description": "x", "state": state, "iss": fake.url})
    )
    body = assert_clear_page(answer, 400, "Not connected", text, f"<code>{code}</code>")
    assert "<b>odd</b>" not in body
    assert "Connect your workspace" in body  # a way to try again
    # The state was used up: the same answer again is not taken for a fresh one.
    again = client.get(answer.request.full_path)
    assert_clear_page(again, 400, STATE_TEXT)
    assert "/token" not in fake.paths()


def test_an_error_answer_with_a_state_we_never_sent_is_not_believed(make_demo, fake):
    client = signed_in(make_demo(fake.url))
    start_connect(client)
    forged = "/callback?" + urlencode(
        {"error": "access_denied", "state": "forged", "iss": fake.url}
    )
    body = assert_clear_page(client.get(forged), 400, STATE_TEXT)
    assert "did not allow access" not in body
    assert_clear_page(client.get("/callback"), 400, STATE_TEXT)
    assert_clear_page(client.get("/callback?code=abc&state=forged"), 400, STATE_TEXT)


@pytest.mark.parametrize("iss", [None, "http://127.0.0.1:1/elsewhere"])
def test_an_answer_from_another_issuer_is_refused(make_demo, fake, iss):
    client = signed_in(make_demo(fake.url))
    state = query(start_connect(client))["state"]
    params = {"code": "wsp_oac_x", "state": state, **({"iss": iss} if iss else {})}
    answer = client.get("/callback?" + urlencode(params))
    assert_clear_page(answer, 400, "did not come from the expected workspace")
    assert "/token" not in fake.paths()  # the code was not sent anywhere


def test_the_real_server_refuses_an_unknown_scope(make_demo, stack: Stack):
    client, authorize_url = _connect_to(make_demo, stack, scope="shared nonsense")
    back = _server_answer(stack, authorize_url)
    assert back.status_code == 302
    assert query(back.headers["Location"])["error"] == "invalid_scope"
    answer = client.get(path_and_query(back.headers["Location"]))
    assert_clear_page(answer, 400, "does not offer the permissions", "<code>invalid_scope</code>")


def test_the_real_server_refuses_a_request_without_pkce(make_demo, stack: Stack):
    client, authorize_url = _connect_to(make_demo, stack)
    params = query(authorize_url)
    assert params["code_challenge_method"] == "S256" and params["state"]
    del params["code_challenge"], params["code_challenge_method"]
    stripped = authorize_url.split("?")[0] + "?" + urlencode(params)
    back = _server_answer(stack, stripped)
    assert back.status_code == 302
    assert query(back.headers["Location"])["error"] == "invalid_request"
    answer = client.get(path_and_query(back.headers["Location"]))
    assert_clear_page(answer, 400, "The sign-in request was not valid.")


def test_a_code_the_real_server_refuses_gets_a_clear_page(make_demo, stack: Stack):
    client, authorize_url = _connect_to(make_demo, stack)
    state = query(authorize_url)["state"]
    params = {"code": "wsp_oac_made_up", "state": state, "iss": stack.server_url}
    answer = client.get("/callback?" + urlencode(params))
    assert_clear_page(answer, 400, "already used or has expired", "<code>invalid_grant</code>")


def _server_answer(stack: Stack, authorize_url: str) -> requests.Response:
    """The server's answer to ``authorize_url``: sign-in first (an error goes back to the app
    only for a signed-in teammate), then the answer to the same request."""
    browser = requests.Session()
    to_login = browser.get(authorize_url, allow_redirects=False, timeout=10)
    assert to_login.status_code == 302
    assert urlsplit(to_login.headers["Location"]).path == "/login"
    page = browser.get(stack.server_url + to_login.headers["Location"], timeout=10)
    signed_in = browser.post(
        stack.server_url + "/login",
        data={
            "email": stack.admin["email"],
            "password": stack.admin["password"],
            "next": dict(parse_qsl(urlsplit(to_login.headers["Location"]).query))["next"],
            "csrf_token": csrf_from(page.text),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 302
    return browser.get(
        stack.server_url + signed_in.headers["Location"], allow_redirects=False, timeout=10
    )


def _connect_to(
    make_demo: Callable[..., Flask], stack: Stack, scope: str | None = None
) -> tuple[Any, str]:
    """A demo app in this process for the real server, answering at the registered URI."""
    config = {
        "CLIENT_ID": stack.credentials["client_id"],
        "CLIENT_SECRET": stack.credentials["client_secret"],
        # The registered redirect URI names the demo process's port; an answer sent there
        # is handed to this app instead.
        "SERVER_NAME": urlsplit(stack.demo_url).netloc,
    }
    if scope is not None:
        config["SCOPE"] = scope
    client = signed_in(make_demo(stack.server_url, **config))
    authorize_url = start_connect(client)
    assert authorize_url.startswith(stack.server_url + "/oauth/authorize?")
    return client, authorize_url


# --- the dashboard: refreshes, revocation, a workspace in trouble -----------------------------


def test_an_expired_token_is_refreshed_without_asking_for_a_scope(make_demo, fake):
    app = make_demo(fake.url)
    keep_token(app, "uma", expires_at=1)
    answer = signed_in(app).get("/")
    assert_clear_page(answer, 200, "Connected to Fake Co", "Fake team", "Fake subject")
    path, form, auth = fake.calls[0]
    assert path == "/token" and auth == "basic"
    assert form == {"grant_type": "refresh_token", "refresh_token": "wsp_ort_old"}
    assert kept_token(app, "uma")["refresh_token"] == "wsp_ort_new"  # the rotation is kept


def test_a_401_is_retried_once_after_a_refresh(make_demo, fake):
    app = make_demo(fake.url)
    keep_token(app, "uma", access_token="wsp_oat_unknown_to_the_server")
    answer = signed_in(app).get("/")
    assert_clear_page(answer, 200, "Connected to Fake Co")
    assert fake.paths()[:3] == ["/api/v1/me", "/token", "/api/v1/me"]


@pytest.mark.parametrize("expired", [True, False])
def test_a_refused_refresh_means_access_was_revoked(make_demo, fake, expired):
    fake.token_answer = (400, {"error": "invalid_grant", "error_description": "revoked"})
    app = make_demo(fake.url)
    keep_token(app, "uma", **({"expires_at": 1} if expired else {"access_token": "wsp_oat_x"}))
    answer = signed_in(app).get("/")
    assert_clear_page(answer, 200, "Access was revoked", "Connect your workspace")
    assert kept_token(app, "uma") is None


def test_a_refresh_refused_for_another_reason_keeps_the_connection(make_demo, fake):
    fake.token_answer = (401, {"error": "invalid_client", "error_description": "bad secret"})
    app = make_demo(fake.url)
    keep_token(app, "uma", expires_at=1)
    answer = signed_in(app).get("/")
    assert_clear_page(answer, 502, "did not recognise this app")
    assert kept_token(app, "uma") is not None


@pytest.mark.parametrize("status", [403, 429, 500])
def test_an_api_error_gets_a_clear_page(make_demo, fake, status):
    fake.api_status = status
    app = make_demo(fake.url)
    keep_token(app, "uma")
    assert_clear_page(signed_in(app).get("/"), 502, f"HTTP {status}")
    assert kept_token(app, "uma") is not None


def test_metadata_naming_another_issuer_is_refused_before_any_token_is_sent(make_demo, fake):
    fake.issuer = "http://127.0.0.1:1"
    app = make_demo(fake.url)
    keep_token(app, "uma")
    client = signed_in(app)
    assert_clear_page(client.get("/"), 502, "Workspace misconfigured")
    assert_clear_page(client.post("/connect", data={"csrf": "csrf-token"}), 502)
    assert fake.paths() == []


def test_the_server_down_gets_clear_pages(make_demo):
    app = make_demo(f"http://127.0.0.1:{free_port()}")
    client = signed_in(app)
    assert_clear_page(client.get("/"), 200, "Connect your workspace")
    assert_clear_page(
        client.post("/connect", data={"csrf": "csrf-token"}), 503, "Workspace unreachable"
    )
    keep_token(app, "uma")
    assert_clear_page(client.get("/"), 503, "Workspace unreachable")
    # Disconnect forgets the tokens anyway, and says the workspace was not told.
    answer = client.post("/disconnect", data={"csrf": "csrf-token"})
    assert_clear_page(answer, 502, "Disconnected here only", "Apps with Access")
    assert kept_token(app, "uma") is None


# --- disconnect, forms, and the unexpected ----------------------------------------------------


def test_disconnect_revokes_the_refresh_token_then_forgets(make_demo, fake):
    app = make_demo(fake.url)
    keep_token(app, "uma")
    answer = signed_in(app).post("/disconnect", data={"csrf": "csrf-token"})
    assert answer.status_code == 302
    path, form, auth = fake.calls[-1]
    assert path == "/revoke" and auth == "basic"
    assert form == {"token": "wsp_ort_old", "token_type_hint": "refresh_token"}
    assert kept_token(app, "uma") is None


def test_disconnect_refused_by_the_server_says_so(make_demo, fake):
    fake.revoke_status = 503
    app = make_demo(fake.url)
    keep_token(app, "uma")
    answer = signed_in(app).post("/disconnect", data={"csrf": "csrf-token"})
    assert_clear_page(answer, 502, "Disconnected here only")
    assert kept_token(app, "uma") is None


@pytest.mark.parametrize("path", ["/connect", "/disconnect", "/signout"])
@pytest.mark.parametrize("sent", [{"csrf": "wrong"}, {"csrf": "é"}, {}])
def test_a_form_without_its_csrf_token_gets_a_clear_page(make_demo, fake, path, sent):
    client = signed_in(make_demo(fake.url))
    assert_clear_page(client.post(path, data=sent), 400, "The form expired")
    # A session that never got a token accepts no form either.
    fresh = make_demo(fake.url).test_client()
    sign_in(fresh)  # signing in starts a new session, with no token yet
    assert_clear_page(fresh.post(path, data=sent), 400, "The form expired")
    assert fake.paths() == []


def test_an_unexpected_error_gets_a_clear_page(make_demo, fake, monkeypatch):
    app = make_demo(fake.url)

    def broken(username: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "load", broken)
    body = assert_clear_page(signed_in(app).get("/"), 500, "Something went wrong")
    assert "disk on fire" not in body


def test_an_unknown_page_gets_a_clear_page(make_demo, fake):
    assert_clear_page(make_demo(fake.url).test_client().get("/nope"), 404, "No such page.")


def test_each_app_has_its_own_oauth_client(make_demo, fake):
    first, second = make_demo(fake.url), make_demo("http://127.0.0.1:1")
    clients = [
        app.extensions["authlib.integrations.flask_client"].workspace for app in (first, second)
    ]
    assert clients[0] is not clients[1]
    assert clients[1]._server_metadata_url.startswith("http://127.0.0.1:1/")


# --- the sign-in form, the session cookie and the page policy ----------------------------------


@pytest.mark.parametrize("sent", [{"csrf": "wrong"}, {}])
def test_the_sign_in_form_needs_its_csrf_token(make_demo, fake, sent):
    client = make_demo(fake.url).test_client()
    page = client.get("/signin")
    assert 'name="csrf"' in page.get_data(as_text=True)
    assert_clear_page(client.post("/signin", data={"username": "uma", **sent}), 400)
    with client.session_transaction() as session:
        assert "username" not in session
    sign_in(client)  # with the token it carries, the form works


def test_the_pkce_verifier_stays_server_side(make_demo, fake):
    from flask.sessions import SecureCookieSessionInterface

    app = make_demo(fake.url)
    client = signed_in(app)
    authorize_url = start_connect(client)
    cookie = client.get_cookie("partners_demo_session")
    assert cookie is not None
    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie.value)
    assert "code_verifier" not in repr(data)
    assert authorize_url not in repr(data)
    assert "redirect_uri" not in repr(data)


def test_pages_carry_a_strict_content_security_policy(make_demo, fake):
    app = make_demo(fake.url)
    answer = app.test_client().get("/signin")
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'<style nonce="{nonce}">' in answer.get_data(as_text=True)
    assert "<script" not in answer.get_data(as_text=True)
    assert f"form-action 'self' {fake.url}" in policy
