"""The public keys GitHub signs its secret-scanning reports with, and the check.

``SECRET_SCANNING_PUBLIC_KEYS`` names a JSON file in the format GitHub publishes them in
(https://api.github.com/meta/public_keys/secret_scanning)::

    {"public_keys": [{"key_identifier": "...", "key": "-----BEGIN PUBLIC KEY-----...",
                      "is_current": true}]}

The file is read once and again whenever it changes (its modification time and size), so
a key rotation is a file replaced, not a restart. Every key listed verifies, current or
not: GitHub names the key it signed with, and keeps signing with an old one for a while.

A report is signed with ECDSA P-256 and SHA-256 over its raw body; the signature comes
base64-encoded (DER) in ``Github-Public-Key-Signature``, the key's identifier in
``Github-Public-Key-Identifier``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

log = logging.getLogger(__name__)

IDENTIFIER_MAX = 200
SIGNATURE_MAX = 400  # a base64 DER P-256 signature is at most 96 characters


@dataclass(frozen=True)
class _Loaded:
    path: str
    stamp: tuple[int, int]
    keys: dict[str, ec.EllipticCurvePublicKey]


_lock = threading.Lock()
_loaded: _Loaded | None = None


def parse(document: bytes) -> dict[str, ec.EllipticCurvePublicKey]:
    """The P-256 keys of a key file, by identifier; ``ValueError`` if it is not one."""
    data = json.loads(document)
    entries = data.get("public_keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError('no "public_keys" list')
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in entries:
        identifier = entry.get("key_identifier") if isinstance(entry, dict) else None
        pem = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or not isinstance(pem, str):
            raise ValueError("a key without key_identifier or key")
        key = load_pem_public_key(pem.encode("ascii"))
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ValueError(f"key {identifier[:IDENTIFIER_MAX]!r} is not an ECDSA P-256 key")
        keys[identifier] = key
    return keys


def current_keys(path: str | None) -> dict[str, ec.EllipticCurvePublicKey]:
    """The keys of the file at ``path``, read again when it changed; none when the
    setting is unset or the file unreadable (then every report is refused)."""
    global _loaded
    if not path:
        return {}
    try:
        info = os.stat(path)
    except OSError:
        log.warning("secret scanning key file missing", extra={"path": path})
        return {}
    stamp = (info.st_mtime_ns, info.st_size)
    loaded = _loaded
    if loaded is not None and loaded.path == path and loaded.stamp == stamp:
        return loaded.keys
    with _lock:
        try:
            with open(path, "rb") as fh:
                keys = parse(fh.read())
        except (OSError, ValueError, TypeError, UnicodeError) as error:
            log.warning(
                "secret scanning key file unusable", extra={"path": path, "error": str(error)}
            )
            return {}
        _loaded = _Loaded(path, stamp, keys)
        log.info("secret scanning keys loaded", extra={"path": path, "keys": len(keys)})
        return keys


def verify(
    keys: dict[str, ec.EllipticCurvePublicKey],
    identifier: str | None,
    signature: str | None,
    body: bytes,
) -> bool:
    """Whether ``signature`` (base64 DER) over ``body`` is valid for the key ``identifier``."""
    if not identifier or not signature or len(signature) > SIGNATURE_MAX:
        return False
    key = keys.get(identifier)
    if key is None:
        return False
    try:
        der = base64.b64decode(signature.strip(), validate=True)
        key.verify(der, body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True
