"""The one way the server makes a request to a URL someone else chose.

A URL from a request (a Client ID Metadata Document, an app's event URL) could point
the server at its own network: a cloud metadata service, an admin port, a database. So
every outbound request here:

- is https (plain http only to a loopback address, and only with the development setting
  ``OUTBOUND_ALLOW_LOOPBACK``);
- resolves the host itself (``resolve``) and refuses it if ANY of its addresses is
  private, loopback, link-local, multicast, reserved or unspecified (loopback allowed
  with the setting), then connects to the address it checked: a second DNS answer (DNS
  rebinding) is never asked for. The TLS certificate is still checked against the host
  name (SNI and ``assert_hostname``), and the Host header names it;
- follows no redirect (a 3xx is a failure: the target could be anywhere);
- gives up after ``CONNECT_TIMEOUT`` to connect and ``TOTAL_TIMEOUT`` for the whole answer,
  and reads at most ``MAX_BYTES`` (streamed: a larger answer is dropped, not buffered).
  The whole-answer limit is checked between chunks, each read bounded by the same
  timeout: a server dripping bytes is cut off within twice ``TOTAL_TIMEOUT``.

urllib3 (what requests itself runs on) is used directly: its connection pools take the
address to connect to apart from the name to verify, which requests' API does not.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import certifi
import urllib3
from flask import current_app
from urllib3.exceptions import HTTPError

CONNECT_TIMEOUT = 3.0
TOTAL_TIMEOUT = 5.0
MAX_BYTES = 64 * 1024
_CHUNK = 8192
JSON_TYPES = ("application/json",)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
T = TypeVar("T")


class OutboundError(Exception):
    """A request refused or failed; the message says why, for a person, in plain ASCII."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Fetched:
    body: bytes
    cache_control: str


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to. Module-level so that tests can stand in for DNS."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundError(f"The host {host} could not be resolved.") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def allow_loopback() -> bool:
    return bool(current_app.config.get("OUTBOUND_ALLOW_LOOPBACK", False))


def is_refused_address(address: IPAddress, *, loopback_allowed: bool) -> bool:
    """An address no outbound request may reach: anything but the public internet (the
    loopback addresses with the development setting excepted)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_refused_address(address.ipv4_mapped, loopback_allowed=loopback_allowed)
    if address.is_loopback:
        return not loopback_allowed
    return (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def checked_address(host: str, port: int, *, loopback_only: bool = False) -> str:
    """The address to connect to, once every address of ``host`` is allowed (and, for
    plain http, is loopback)."""
    addresses = resolve(host, port)
    if not addresses:
        raise OutboundError(f"The host {host} could not be resolved.")
    loopback_allowed = allow_loopback()
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise OutboundError(f"The host {host} resolved to an invalid address.") from None
        if is_refused_address(address, loopback_allowed=loopback_allowed):
            raise OutboundError(
                f"The host {host} resolves to a private, loopback or link-local address."
            )
        if loopback_only and not address.is_loopback:
            raise OutboundError("Plain http is allowed only to a loopback address.")
    return addresses[0]


def _target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an allowed URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundError("The URL is not valid.") from None
    host = parts.hostname or ""
    if not host or parts.username is not None or parts.password is not None:
        raise OutboundError("The URL must name a host, and no user name or password.")
    if parts.scheme == "http" and not allow_loopback():
        raise OutboundError("The URL must use https.")
    if parts.scheme not in ("https", "http"):
        raise OutboundError("The URL must use https.")
    default = 443 if parts.scheme == "https" else 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or default, path


def _pool(scheme: str, address: str, port: int, host: str) -> urllib3.HTTPConnectionPool:
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=TOTAL_TIMEOUT)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)


def get_json(url: str) -> Fetched:
    """GET ``url`` under the rules above; the body of a 200 ``application/json`` answer."""
    return _request("GET", url, {"Accept": "application/json"}, None, _read)


def post_json(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST a JSON ``body`` to ``url`` under the rules above (the same address checks, no
    redirect, the same time limit); the answer's status. Its body is read up to
    ``MAX_BYTES`` and dropped. A redirect is answered as its status: the caller decides."""
    sent = {**headers, "Content-Type": "application/json"}
    return _request("POST", url, sent, body, _status)


def _request(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    answer: Callable[[urllib3.BaseHTTPResponse, float], T],
) -> T:
    scheme, host, port, path = _target(url)
    address = checked_address(host, port, loopback_only=scheme == "http")
    default_port = 443 if scheme == "https" else 80
    host_header = host if port == default_port else f"{_bracketed(host)}:{port}"
    pool = _pool(scheme, address, port, host)
    deadline = time.monotonic() + TOTAL_TIMEOUT
    try:
        response = pool.urlopen(
            method,
            path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            return answer(response, deadline)
        finally:
            response.release_conn()
    except HTTPError as problem:
        raise OutboundError(_describe(problem)) from None
    finally:
        pool.close()


def _status(response: urllib3.BaseHTTPResponse, deadline: float) -> int:
    read = 0
    for chunk in response.stream(_CHUNK):
        read += len(chunk)
        if read > MAX_BYTES or time.monotonic() > deadline:
            break  # the status is all we wanted: the rest is not read
    return response.status


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _describe(problem: HTTPError) -> str:
    if isinstance(problem, urllib3.exceptions.TimeoutError):
        return "The request timed out."
    if isinstance(problem, urllib3.exceptions.SSLError):
        return "The TLS certificate could not be verified."
    return "The request failed: the server could not be reached."


def _read(response: urllib3.BaseHTTPResponse, deadline: float) -> Fetched:
    if 300 <= response.status < 400:
        raise OutboundError(f"The server answered with a redirect ({response.status}).")
    if response.status != 200:
        raise OutboundError(f"The server answered with status {response.status}.")
    media_type = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise OutboundError("The answer is not application/json.")
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > MAX_BYTES:
        raise OutboundError(f"The answer is larger than {MAX_BYTES // 1024} KiB.")
    body = bytearray()
    for chunk in response.stream(_CHUNK):
        body += chunk
        if len(body) > MAX_BYTES:
            raise OutboundError(f"The answer is larger than {MAX_BYTES // 1024} KiB.")
        if time.monotonic() > deadline:
            raise OutboundError("The request timed out.")
    return Fetched(bytes(body), response.headers.get("Cache-Control") or "")
