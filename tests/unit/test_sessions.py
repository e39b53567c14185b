"""Session cookies: signed by the one service, ended by idleness or age, never forged."""

from __future__ import annotations

import os

import pytest

from common.sessions import SessionSigner

NOW = 1_800_000_000.0


def signer(key: bytes | None = None) -> SessionSigner:
    return SessionSigner(key or b"k" * 32, idle_seconds=1800, longest_seconds=12 * 3600)


def test_a_session_reads_back_as_it_was_signed() -> None:
    session = signer().begin("li.clerk", NOW)
    assert signer().decode(signer().encode(session), NOW + 60) == session
    assert len(session.csrf) >= 32
    assert session.csrf != session.session_id


def test_a_session_left_alone_ends_and_use_keeps_it_going() -> None:
    s = signer()
    session = s.begin("li.clerk", NOW)
    assert s.decode(s.encode(session), NOW + 1801) is None
    used = s.used(session, NOW + 1700)
    assert s.decode(s.encode(used), NOW + 3000) == used


def test_no_session_outlives_the_longest_allowed_however_busy() -> None:
    s = signer()
    session = s.used(s.begin("li.clerk", NOW), NOW + 12 * 3600)
    assert s.decode(s.encode(session), NOW + 12 * 3600 + 1) is None


def test_another_services_key_or_an_altered_cookie_is_refused() -> None:
    mine, theirs = signer(os.urandom(32)), signer(os.urandom(32))
    cookie = theirs.encode(theirs.begin("admin", NOW))
    assert mine.decode(cookie, NOW) is None
    own = mine.encode(mine.begin("li.clerk", NOW))
    body, signature = own.split(".")
    forged_body = mine.encode(mine.begin("admin", NOW)).split(".")[0]
    assert mine.decode(f"{forged_body}.{signature}", NOW) is None
    for junk in ("", ".", "a.b.c", "x" * 2000, f"{body}.", "%%%.%%%"):
        assert mine.decode(junk, NOW) is None


def test_a_session_dated_in_the_future_is_not_one_this_service_made() -> None:
    s = signer()
    session = s.begin("li.clerk", NOW + 3600)
    assert s.decode(s.encode(session), NOW) is None


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionSigner(b"short", 60, 60)
