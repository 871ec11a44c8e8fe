"""Password hashing (argon2id) and the rules for a new password.

Hashes are argon2id through argon2-cffi, with its default parameters (RFC 9106's
low-memory profile) unless ``PASSWORD_ARGON2`` names others. Hashes from before argon2
(werkzeug's ``scrypt:`` and ``pbkdf2:``) still verify; ``verify`` then hands back an
argon2 hash to store, as it does for an argon2 hash made with other parameters: the next
successful sign-in upgrades it.

A new password is 8 to 200 characters and not one of the 10,000 most common passwords
(the top of the list zxcvbn ships, from a public corpus of leaked passwords), compared
case-insensitively.
"""

from __future__ import annotations

import functools
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from flask import current_app
from werkzeug.security import check_password_hash

from oauth_server.errors import ValidationFailed

PASSWORD_MIN = 8
PASSWORD_MAX = 200
COMMON_COUNT = 10_000
# The hash of an account nobody can sign in to (provisioned, awaiting an invitation): not
# a hash of anything, so no password matches, and no argon2 time spent making it.
UNUSABLE_PREFIX = "!"


def check_new(password: str) -> str:
    """``password`` if it may be chosen, else ``ValidationFailed`` on field "password"."""
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        raise ValidationFailed(
            f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.", field="password"
        )
    if is_common(password):
        raise ValidationFailed(
            "This password is one of the most common ones, which are tried first: choose another.",
            field="password",
        )
    return password


def is_common(password: str) -> bool:
    return password.casefold() in _common()


@functools.cache
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"][:COMMON_COUNT])


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def unusable() -> str:
    """A stored hash that no password verifies against."""
    return UNUSABLE_PREFIX + secrets.token_urlsafe(24)


def verify(stored: str, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored``, and the hash to store instead, if any."""
    hasher = _hasher()
    if stored.startswith("$argon2"):
        try:
            hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        return True, hasher.hash(password) if hasher.check_needs_rehash(stored) else None
    if stored.startswith(UNUSABLE_PREFIX) or ":" not in stored:
        verify_nothing(password)  # as long as a real check
        return False, None
    # werkzeug's "method$salt$hash", from before argon2.
    if check_password_hash(stored, password):
        return True, hasher.hash(password)
    return False, None


def verify_nothing(password: str) -> None:
    """Spend the time of a check that fails: an unknown e-mail answers as fast as a known."""
    hasher = _hasher()
    try:
        hasher.verify(_dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        pass


def _hasher() -> PasswordHasher:
    parameters: dict[str, Any] | None = current_app.config.get("PASSWORD_ARGON2")
    return _hasher_for(tuple(sorted((parameters or {}).items())))


@functools.cache
def _hasher_for(parameters: tuple[tuple[str, Any], ...]) -> PasswordHasher:
    return PasswordHasher(**dict(parameters))


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("not a password")
