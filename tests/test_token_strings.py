"""Token strings: prefix, random body, checksum (oauth_server/tokens.py)."""

from __future__ import annotations

import collections
import zlib

from oauth_server import tokens


def test_every_kind_has_its_prefix_a_body_of_the_alphabet_and_a_valid_checksum() -> None:
    for kind in tokens.Kind:
        value = tokens.generate(kind)
        assert value.startswith(kind.value)
        body = value[len(kind.value) :]
        assert len(body) == tokens.BODY_LENGTH + tokens.CHECKSUM_LENGTH
        assert set(body) <= set(tokens.ALPHABET)
        assert tokens.kind_of(value) is kind


def test_bodies_are_drawn_uniformly_from_the_whole_alphabet() -> None:
    bodies = [tokens.generate(tokens.Kind.ACCESS)[8:40] for _ in range(4000)]
    assert len(set(bodies)) == len(bodies)
    counts = collections.Counter(c for body in bodies for c in body)
    expected = 4000 * tokens.BODY_LENGTH / len(tokens.ALPHABET)  # about 2065 each
    assert set(counts) == set(tokens.ALPHABET)
    # Six standard deviations either way: a skewed or short alphabet fails, chance does not.
    assert all(abs(n - expected) < 6 * expected**0.5 for n in counts.values()), counts
    # Every position too (a body written with leading zeros would show at the start).
    firsts = collections.Counter(body[0] for body in bodies)
    assert len(firsts) == len(tokens.ALPHABET)


def test_a_changed_character_or_a_foreign_one_fails_the_check() -> None:
    value = tokens.generate(tokens.Kind.PERSONAL)
    changed = value[:-7] + ("A" if value[-7] != "A" else "B") + value[-6:]
    assert tokens.kind_of(changed) is None
    assert tokens.kind_of(value[:-1] + "!") is None
    assert tokens.kind_of(value + "0") is None
    assert tokens.kind_of("wsp_xyz_" + value[8:]) is None


def test_the_checksum_is_the_crc32_in_base62_as_every_issued_token_has_it() -> None:
    """Tokens issued before stay valid: the checksum is CRC32 written in base 62, six
    digits, most significant first."""
    value = tokens.generate(tokens.Kind.REFRESH)
    head, check = value[:-6], value[-6:]
    number, digits = zlib.crc32(head.encode("ascii")), ""
    for _ in range(6):
        number, rest = divmod(number, 62)
        digits = tokens.ALPHABET[rest] + digits
    assert check == digits
    assert tokens.kind_of("wsp_pat_" + "0" * 32 + "3vuZkU") is tokens.Kind.PERSONAL
