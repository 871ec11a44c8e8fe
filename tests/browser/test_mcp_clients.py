"""The official MCP SDK clients, Python (``mcp``) and TypeScript (``@modelcontextprotocol/sdk``),
against a live server, given only the API's URL.

Each one meets a bare 401 at ``/api/v1/me``, discovers the protected resource and the
authorization server from it, names a Client ID Metadata Document served here on loopback
as its client_id, sends Chromium to the consent page (signed in and allowed like a person
would), redeems the code, calls the API, refreshes, and stops working once an admin
presses "Revoke access" under Apps with Access.

The SDKs accept only an https client_id URL; the server fetches plain http on loopback
with ``OUTBOUND_ALLOW_LOOPBACK``, so the document is served over http and the SDKs' own
https check is stepped around, not the server's: the Python provider gets the URL after
its constructor checked it; the TypeScript provider starts with the client record the SDK
saves for a document (its client_id the URL).
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from typing import TypeVar
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from oauth_server.extensions import db
from oauth_server.models import OAuthClient
from oauth_server.models import OAuthGrant
from oauth_server.models import OAuthToken
from tests.browser.pages import log_in_form
from tests.browser.pages import open_api_settings
from tests.processes import unavailable

pytestmark = pytest.mark.browser

APP_NAME = "Agent Under Test"
TS_DIR = Path(__file__).resolve().parent / "mcp_ts"
T = TypeVar("T")


class LoopbackServer:
    """A tiny HTTP server on 127.0.0.1 and a random port, in a thread of its own."""

    def __init__(self, handle: Callable[[BaseHTTPRequestHandler], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class MetadataDocument:
    """The agent's Client ID Metadata Document: its client_id is its own URL."""

    def __init__(self) -> None:
        self.fetches = 0
        self._server = LoopbackServer(self._handle)
        self.url = f"{self._server.origin}/agent/client.json"

    def document(self) -> dict[str, Any]:
        return {
            "client_id": self.url,
            "client_name": APP_NAME,
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path != urlsplit(self.url).path:
            _answer(handler, 404, b"{}", "application/json")
            return
        self.fetches += 1
        _answer(handler, 200, json.dumps(self.document()).encode(), "application/json")

    def stop(self) -> None:
        self._server.stop()


class Callback:
    """The Python agent's redirect URI: hands what reaches /callback to the agent."""

    def __init__(self) -> None:
        self.hits: queue.Queue[dict[str, str]] = queue.Queue()
        self._server = LoopbackServer(self._handle)
        self.url = f"{self._server.origin}/callback"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        if parts.path == "/callback":
            self.hits.put({k: v[0] for k, v in parse_qs(parts.query).items()})
        body = b"<!doctype html><title>Agent</title><p>You can close this window.</p>"
        _answer(handler, 200, body, "text/html")

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def cimd() -> Iterator[MetadataDocument]:
    document = MetadataDocument()
    yield document
    document.stop()


@pytest.fixture
def issuer(app: Flask, live_server: Any) -> str:
    """The live server is its own issuer (resources compare byte for byte), and fetches
    metadata documents from loopback; ``_clean`` puts the test config back after."""
    app.config["OAUTH_ISSUER"] = live_server.url
    app.config["OUTBOUND_ALLOW_LOOPBACK"] = True
    url: str = live_server.url
    return url


def sign_in_and_allow(page: Any, url: str, email: str, redirect_prefix: str) -> None:
    """What the person does: open the authorization URL, sign in, press Allow."""
    page.goto(url)
    assert urlsplit(page.url).path == "/login", page.content()
    log_in_form(page, email)
    page.wait_for_load_state()
    # The app is known by its document only: the heading names the document's host.
    heading = page.get_by_role("heading", name=f"{APP_NAME} from 127.0.0.1 wants access to Acme")
    assert heading.is_visible(), page.locator("body").inner_text()
    assert "is not registered on this server" in page.locator("#app-facts").inner_text()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(re.compile(re.escape(redirect_prefix) + r"\?"))


def revoke_under_apps_with_access(page: Any) -> None:
    """An admin (signed in already) revokes the agent's grant in Company settings."""
    page.goto("/")
    open_api_settings(page)
    apps = page.locator("#apps-with-access")
    apps.get_by_role("heading", name="Apps with Access").wait_for()
    # Known by its document: listed with the document's host after the name.
    row = apps.get_by_role("row").filter(has_text=f"{APP_NAME} (127.0.0.1)")
    assert "Ada Admin" in row.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke access", exact=True).click()
    page.get_by_text(f"Access revoked for “{APP_NAME}").wait_for()
    apps.get_by_text("No apps have access.").wait_for()


def grant_and_tokens() -> tuple[OAuthGrant, list[OAuthToken]]:
    db.session.expire_all()
    grant = db.session.scalars(select(OAuthGrant)).one()
    tokens = list(db.session.scalars(select(OAuthToken).order_by(OAuthToken.id)))
    return grant, tokens


def me(base: str, access_token: str) -> requests.Response:
    return requests.get(
        f"{base}/api/v1/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )


# --- Python: mcp ---------------------------------------------------------------------------


class EventLoop:
    """An asyncio loop in a thread: the SDK's async client runs there while this thread
    drives Playwright's sync API (which refuses to run inside a loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        result: T = self.submit(coro).result(timeout=60)
        return result

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class Agent:
    """The Python SDK's ``OAuthClientProvider`` on an ``httpx2.AsyncClient``.

    ``redirect_handler`` hands the authorization URL to the test (which drives the
    browser) the first time, and refuses any later authorization: after a revocation the
    agent must not quietly get a new grant.
    """

    def __init__(self, loop: EventLoop, api: str, document_url: str, callback: Callback) -> None:
        self.loop = loop
        self.api = api
        self.document_url = document_url
        self.callback = callback
        self.authorizations: list[str] = []
        self.token_answers: list[tuple[str, int, dict[str, Any]]] = []
        self.to_browser: queue.Queue[str] = queue.Queue()
        self.provider: Any = None
        self.client: Any = None
        loop.run(self._open())

    async def _open(self) -> None:
        import httpx2
        from mcp.client.auth import OAuthClientProvider
        from mcp.shared.auth import OAuthClientInformationFull
        from mcp.shared.auth import OAuthClientMetadata
        from mcp.shared.auth import OAuthToken as SdkToken

        class Storage:
            def __init__(self) -> None:
                self.tokens: SdkToken | None = None
                self.client_info: OAuthClientInformationFull | None = None

            async def get_tokens(self) -> SdkToken | None:
                return self.tokens

            async def set_tokens(self, tokens: SdkToken) -> None:
                self.tokens = tokens

            async def get_client_info(self) -> OAuthClientInformationFull | None:
                return self.client_info

            async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
                self.client_info = client_info

        self.storage = Storage()
        self.provider = OAuthClientProvider(
            server_url=self.api,
            client_metadata=OAuthClientMetadata(
                client_name=APP_NAME,
                redirect_uris=[self.callback.url],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=self.storage,
            redirect_handler=self._redirect,
            callback_handler=self._callback,
        )
        # The SDK takes only an https document URL; the server reads http on loopback.
        self.provider.context.client_metadata_url = self.document_url
        self.client = httpx2.AsyncClient(
            auth=self.provider, timeout=30, event_hooks={"response": [self._seen]}
        )

    async def _seen(self, response: Any) -> None:
        if response.request.url.path == "/oauth/token":
            await response.aread()
            form = parse_qs(response.request.content.decode())
            self.token_answers.append(
                (form["grant_type"][0], response.status_code, response.json())
            )

    async def _redirect(self, url: str) -> None:
        self.authorizations.append(url)
        if len(self.authorizations) > 1:
            raise RuntimeError("a second authorization was asked for")
        self.to_browser.put(url)

    async def _callback(self) -> Any:
        from mcp.shared.auth import AuthorizationCodeResult

        hit = await asyncio.to_thread(self.callback.hits.get, True, 30)
        return AuthorizationCodeResult(code=hit["code"], state=hit.get("state"), iss=hit.get("iss"))

    async def _get(self, path: str) -> Any:
        return await self.client.get(self.api + path)

    def get(self, path: str, browse: Callable[[str], None] | None = None) -> Any:
        """GET under the API; ``browse`` takes the authorization URL if one is asked for."""
        future = self.loop.submit(self._get(path))
        deadline = time.monotonic() + 60
        while not future.done() and time.monotonic() < deadline:
            try:
                url = self.to_browser.get(timeout=0.1)
            except queue.Empty:
                continue
            assert browse is not None, f"unexpected authorization: {url}"
            browse(url)
        return future.result(timeout=max(deadline - time.monotonic(), 1))

    def close(self) -> None:
        self.loop.run(self.client.aclose())


def test_python_sdk_discovers_consents_refreshes_and_is_revoked(
    page: Any, issuer: str, cimd: MetadataDocument, company: Any, admin: Any
) -> None:
    callback = Callback()
    loop = EventLoop()
    try:
        agent = Agent(loop, f"{issuer}/api/v1", cimd.url, callback)
        browsed: list[str] = []

        def browse(url: str) -> None:
            browsed.append(url)
            sign_in_and_allow(page, url, admin.email, callback.url)

        # A bare 401, discovery, the document as client_id, consent, the code, a token.
        answer = agent.get("/me", browse)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["kind"], body["app"]["name"]) == ("oauth", APP_NAME)
        assert body["teammate"]["email"] == admin.email
        assert len(browsed) == 1
        asked = {k: v[0] for k, v in parse_qs(urlsplit(browsed[0]).query).items()}
        assert asked["client_id"] == cimd.url
        assert asked["resource"] == f"{issuer}/api/v1"
        assert asked["redirect_uri"] == callback.url
        assert asked["code_challenge_method"] == "S256"
        assert cimd.fetches == 1
        row = db.session.scalars(select(OAuthClient).where(OAuthClient.client_id == cimd.url)).one()
        assert (row.name, row.is_public) == (APP_NAME, True)
        grant, tokens = grant_and_tokens()
        assert len(tokens) == 1
        assert tokens[0].audience == f"{issuer}/api/v1"
        first = agent.storage.tokens
        assert first is not None and first.refresh_token

        # The access token runs out: the SDK refreshes before the call.
        agent.provider.context.token_expiry_time = time.time() - 1
        answer = agent.get("/me")
        assert answer.status_code == 200, answer.text
        second = agent.storage.tokens
        assert second is not None and second.access_token != first.access_token
        _, tokens = grant_and_tokens()
        assert len(tokens) == 2 and tokens[0].refresh_used_at is not None
        assert me(issuer, second.access_token).status_code == 200
        grants = [(grant_type, status) for grant_type, status, _ in agent.token_answers]
        assert grants == [("authorization_code", 200), ("refresh_token", 200)]

        # Revoked under Apps with Access: the token is refused, the refresh too, and the
        # SDK's attempt to start over is refused by the agent (no second consent).
        revoke_under_apps_with_access(page)
        assert me(issuer, second.access_token).status_code == 401
        agent.provider.context.token_expiry_time = time.time() - 1
        with pytest.raises(RuntimeError, match="second authorization"):
            agent.get("/me")
        assert len(agent.authorizations) == 2
        grant_type, status, body = agent.token_answers[-1]
        assert (grant_type, status, body["error"]) == ("refresh_token", 400, "invalid_grant")
        grant, _ = grant_and_tokens()
        assert grant.revoked_at is not None
        assert page.problems == []
        agent.close()
    finally:
        loop.stop()
        callback.stop()


# --- TypeScript: @modelcontextprotocol/sdk ---------------------------------------------------


def _node_ready() -> None:
    """Node and the script's packages (``npm ci`` when missing); fail under CI."""

    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("Node.js 20 and npm are needed for the TypeScript SDK client")
    if not (TS_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=TS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            unavailable(f"npm ci failed in {TS_DIR}: {done.stderr[-2000:]}")


class Script:
    """``agent.mjs``: JSON lines out, JSON lines in."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            ["node", str(TS_DIR / "agent.mjs"), *args],
            cwd=TS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self) -> dict[str, Any]:
        line = self.lines.get(timeout=60)
        if line is None:
            self.process.wait(10)
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"agent.mjs ended ({self.process.returncode}): {stderr}")
        message: dict[str, Any] = json.loads(line)
        return message

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def test_typescript_sdk_discovers_consents_refreshes_and_is_revoked(
    page: Any, issuer: str, cimd: MetadataDocument, company: Any, admin: Any
) -> None:
    _node_ready()
    script = Script([f"{issuer}/api/v1", cimd.url])
    try:
        started = script.next()
        assert set(started) == {"authorize"}, started
        url = started["authorize"]
        asked = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert asked["client_id"] == cimd.url
        assert asked["resource"] == f"{issuer}/api/v1"
        assert asked["code_challenge_method"] == "S256"
        callback_url = asked["redirect_uri"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", callback_url)
        sign_in_and_allow(page, url, admin.email, callback_url)

        first = script.next()
        assert first["me"]["status"] == 200, first
        assert first["me"]["body"]["app"]["name"] == APP_NAME
        assert first["me"]["body"]["teammate"]["email"] == admin.email
        assert first["discovery"]["resource_metadata"] == (
            f"{issuer}/.well-known/oauth-protected-resource/api/v1"
        )
        assert first["discovery"]["client_id_metadata_document_supported"] is True
        assert cimd.fetches == 1
        grant, tokens = grant_and_tokens()
        assert len(tokens) == 1 and tokens[0].audience == f"{issuer}/api/v1"

        script.send({"next": "refresh"})
        refreshed = script.next()
        assert refreshed["me"]["status"] == 200, refreshed
        assert refreshed["access_token"] != first["access_token"]
        _, tokens = grant_and_tokens()
        assert len(tokens) == 2 and tokens[0].refresh_used_at is not None

        revoke_under_apps_with_access(page)
        script.send({"after": "revoke"})
        after = script.next()
        assert after["me"]["status"] == 401, after
        assert after["refresh"]["error"] == "invalid_grant", after
        # The SDK then asks for a new authorization, which nobody follows.
        assert (after["auth"], after["authorizations"], after["me_after"]) == ("REDIRECT", 2, 401)
        script.process.wait(30)
        assert script.process.returncode == 0
        grant, _ = grant_and_tokens()
        assert grant.revoked_at is not None
        assert page.problems == []
    finally:
        script.close()
