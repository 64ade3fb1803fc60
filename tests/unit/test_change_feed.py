"""How the change feed decides whether a page's keys changed since a position."""

import os

import pytest

from spets.webapp.change_feed import ChangeFeed


@pytest.fixture
def feed():
    """A feed as its thread leaves it after connecting, without starting one."""
    feed = ChangeFeed("postgresql://127.0.0.1:1/unused", forget_after_seconds=90)
    feed._pid = os.getpid()
    feed.epoch = 1
    feed.listening = True
    return feed


def test_only_the_changed_key_is_stale(feed):
    before = feed.position()
    feed._note("u:1")

    assert not feed.unchanged_since(before, ("u:1", "s:7"))
    assert feed.unchanged_since(before, ("u:2", "s:7"))
    assert feed.unchanged_since(feed.position(), ("u:1", "s:7"))


def test_everything_change_stales_all_keys(feed):
    before = feed.position()
    feed._note("x")
    assert not feed.unchanged_since(before, ("u:2",))


def test_positions_void_after_reconnect(feed):
    before = feed.position()
    feed.epoch += 1
    assert not feed.unchanged_since(before, ("u:2",))


def test_nothing_vouched_when_down_or_forked(feed):
    before = feed.position()
    feed.listening = False
    assert not feed.unchanged_since(before, ("u:2",))

    feed.listening = True
    feed._pid = -1
    assert not feed.unchanged_since(before, ("u:2",))
    assert not feed.unchanged_since(None, ("u:2",))


def test_old_keys_forgotten(feed):
    feed._note("u:1")
    feed.forget_after_seconds = -1
    feed._forget_old()
    assert feed._changed == {}


def test_unreachable_database_not_listening():
    feed = ChangeFeed("postgresql://127.0.0.1:1/unused", forget_after_seconds=90)
    try:
        assert feed.position() is None
        assert not feed.wait_for(1, timeout=0.2)
    finally:
        feed.stop()
