"""Token strings: a per-kind prefix, random body and CRC32 checksum; hashing and encryption.

Format: ``<prefix><32 base62 characters><6 base62 characters of CRC32>``, for example
``wsp_pat_`` + 38 characters for a personal token. The prefix tells a secret scanner
what it found; the checksum lets anyone reject a mistyped or made-up string offline,
before any database lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from enum import StrEnum

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
MAX_TOKEN_LENGTH = 200


class Kind(StrEnum):
    """Prefix of each kind of secret string we hand out."""

    PERSONAL = "wsp_pat_"
    ACCESS = "wsp_oat_"
    REFRESH = "wsp_ort_"
    CODE = "wsp_oac_"
    CLIENT_SECRET = "wsp_ocs_"
    # The single-use code of a "Set your password" link (an invitation, a reset): the one
    # kind an e-mail may carry, inside our own link only (mail.py).
    PASSWORD_LINK = "wsp_pwl_"


#: Any of the prefixes, as a regular expression (a non-capturing group): what the log, the
#: e-mail guard and leak reports look for before the base62 body.
PREFIX_PATTERN = "(?:" + "|".join(re.escape(kind.value) for kind in Kind) + ")"


# Every two-digit string, by its value: a division by 62**2 writes two digits at once.
_PAIRS = tuple(high + low for high in ALPHABET for low in ALPHABET)
_PAIR_BASE = len(_PAIRS)


def _base62(number: int, width: int) -> str:
    """``number`` in ``width`` base-62 digits, most significant first."""
    digits = []
    for _ in range(width // 2):
        number, rest = divmod(number, _PAIR_BASE)
        digits.append(_PAIRS[rest])
    if width % 2:
        digits.append(ALPHABET[number % len(ALPHABET)])
    return "".join(reversed(digits))


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


_BODIES = len(ALPHABET) ** BODY_LENGTH
_KINDS = tuple(Kind)
_ALPHABET_SET = frozenset(ALPHABET)


def generate(kind: Kind) -> str:
    # One uniform draw among the 62**32 bodies (about 190 bits), written in base 62: the
    # same distribution as 32 draws of a character, for one read of the system's CSPRNG.
    body = _base62(secrets.randbelow(_BODIES), BODY_LENGTH)
    head = kind.value + body
    return head + _checksum(head)


def kind_of(value: str) -> Kind | None:
    """The kind of a well-formed token string with a valid checksum, else None."""
    if not isinstance(value, str) or len(value) > MAX_TOKEN_LENGTH:
        return None
    for kind in _KINDS:
        if value.startswith(kind.value):
            break
    else:
        return None
    body = value[len(kind.value) :]
    if len(body) != BODY_LENGTH + CHECKSUM_LENGTH or not _ALPHABET_SET.issuperset(body):
        return None
    head, check = value[:-CHECKSUM_LENGTH], value[-CHECKSUM_LENGTH:]
    return kind if hmac.compare_digest(_checksum(head), check) else None


def lookup_hash(value: str) -> str:
    """The stored, indexed form of a token string.

    A plain SHA-256 is enough: the strings carry 190 bits of randomness, so there is no
    dictionary to try, and no key is needed at lookup time.
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def display_hint(value: str) -> str:
    """What may be shown of a token without revealing it: its prefix and last 4."""
    return f"{value[:12]}…{value[-4:]}"


class Vault:
    """Encrypts personal token values with TOKEN_ENCRYPTION_KEY.

    The setting may hold several comma-separated Fernet keys: the first encrypts, all
    decrypt, so a key can be rotated without losing stored values.
    """

    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, blob: bytes) -> str | None:
        try:
            return self._fernet.decrypt(blob).decode("utf-8")
        except InvalidToken:
            return None
