"""The key ring of signing links and list cursors: which key signs, which are accepted, and how a
rotation's overlap window ends."""

from __future__ import annotations

import json

import pytest

from chalicelib.core.link_keys import KeyRingError, dump_ring, kid_of, parse_ring, rotated

OLD = "old-key-0123456789abcdefghij"
NOW = 1_800_000_000.0


def test_a_plain_secret_is_a_ring_of_one() -> None:
    ring = parse_ring(OLD)
    assert [k.secret for k in ring.keys] == [OLD] and ring.current.kid == kid_of(OLD)
    assert ring.find(kid_of(OLD)) is ring.current


@pytest.mark.parametrize("stored", ["", "short", " " + OLD, json.dumps({"keys": []}),
                                    json.dumps({"keys": [{"kid": "a", "key": ""}, {"kid": "b", "key": 5}]})])
def test_a_ring_without_a_usable_key_fails_closed(stored: str) -> None:
    with pytest.raises(KeyRingError):
        parse_ring(stored)


def test_a_broken_key_in_a_ring_is_never_used() -> None:
    ring = parse_ring(json.dumps({"keys": [{"kid": "x", "key": "too-short"}, {"kid": "good", "key": OLD}]}))
    assert [k.kid for k in ring.keys] == ["good"]


def test_rotation_puts_a_new_key_first_and_keeps_the_old_for_the_overlap() -> None:
    ring = rotated(parse_ring(OLD), overlap_seconds=720, now=NOW)
    assert ring.current.secret != OLD and ring.current.verify_until is None
    assert [k.secret for k in ring.accepted(NOW + 719)] == [ring.current.secret, OLD]
    assert [k.secret for k in ring.accepted(NOW + 720)] == [ring.current.secret]
    assert ring.find(kid_of(OLD), NOW + 719) is not None and ring.find(kid_of(OLD), NOW + 721) is None
    assert parse_ring(dump_ring(ring)) == ring  # what is stored reads back the same


def test_a_second_rotation_never_lengthens_an_old_keys_window_and_drops_the_expired() -> None:
    once = rotated(parse_ring(OLD), overlap_seconds=720, now=NOW)
    twice = rotated(once, overlap_seconds=3600, now=NOW + 60)
    assert [(k.secret, k.verify_until) for k in twice.keys[1:]] == [(once.current.secret, NOW + 3660),
                                                                      (OLD, NOW + 720)]
    later = rotated(twice, overlap_seconds=720, now=NOW + 1000)
    assert OLD not in [k.secret for k in later.keys]  # its window had ended


def test_no_overlap_ends_the_old_keys_at_once() -> None:
    ring = rotated(parse_ring(OLD), overlap_seconds=0, now=NOW)
    assert [k.secret for k in ring.keys] == [ring.current.secret]
