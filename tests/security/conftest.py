"""Fixtures of leaked token reports: a test key pair in GitHub's key file format, and
tokens of each kind to report."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask

from oauth_server.services import clients
from tests.factories import REDIRECT_URI
from tests.factories import Pair
from tests.factories import make_pair

SCANNING_URL = "/security/secret-scanning"
REPORT_URL = "/security/report-leaked"
KEY_ID = "bench-key-1"


def pem_of(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def write_key_file(path: Path, keys: dict[str, ec.EllipticCurvePrivateKey]) -> None:
    entries = [
        {"key_identifier": key_id, "key": pem_of(key), "is_current": True}
        for key_id, key in keys.items()
    ]
    path.write_text(json.dumps({"public_keys": entries}))


@dataclass
class Signer:
    """GitHub's side: signs a report with a private key named in the key file."""

    key: ec.EllipticCurvePrivateKey
    key_id: str = KEY_ID

    def headers(self, body: bytes) -> dict[str, str]:
        signature = self.key.sign(body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "Github-Public-Key-Identifier": self.key_id,
            "Github-Public-Key-Signature": base64.b64encode(signature).decode(),
        }


@pytest.fixture
def signer(app: Flask, tmp_path: Path) -> Signer:
    """A fresh P-256 key pair whose public key is the configured key file's."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "secret_scanning_keys.json"
    write_key_file(path, {KEY_ID: key})
    app.config["SECRET_SCANNING_PUBLIC_KEYS"] = str(path)
    return Signer(key)


def report_body(*values: str, url: str = "https://github.com/o/r/blob/main/x.env") -> bytes:
    items = [
        {"token": value, "type": "workspace_token", "url": url, "source": "content"}
        for value in values
    ]
    return json.dumps(items).encode()


def app_and_pair(teammate: Any, name: str = "Leaky App") -> tuple[Any, Pair]:
    """A registered app, and the first token pair of a grant of ``teammate`` to it."""
    app_row, _ = clients.register_client(name=name, redirect_uris=[REDIRECT_URI])
    return app_row, make_pair(app_row, teammate)


def mangled(value: str) -> str:
    """``value`` with its last checksum character changed: a wrong checksum."""
    last = "A" if value[-1] != "A" else "B"
    return value[:-1] + last
