"""Repeated SIP authentication failures from one address block it for a while (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pvp.freeswitch.authguard import AuthGuard, Block

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def guard(clock: Clock, blocks: list[Block]) -> AuthGuard:
    return AuthGuard(3, timedelta(seconds=60), timedelta(minutes=15), clock, blocks.append)


def test_failures_past_the_threshold_within_the_window_block_the_address() -> None:
    clock, blocks = Clock(), list[Block]()
    g = guard(clock, blocks)
    for user in ("msa-43-c1", "msa-43-c1"):
        assert g.failed("203.0.113.9", user) is None
    assert not g.blocked("203.0.113.9")
    g.on_event({"network-ip": "203.0.113.9", "to-user": "anpe-le-puy-c1"})
    assert g.blocked("203.0.113.9") and not g.blocked("198.51.100.1")
    (block,) = blocks
    assert (block.address, block.failures, block.users) == (
        "203.0.113.9",
        3,
        ["msa-43-c1", "anpe-le-puy-c1"],
    )
    assert block.until == T0 + timedelta(minutes=15)
    assert g.blocks() == [block]
    g.failed("203.0.113.9")  # still blocked: no second block, no second alert
    assert len(blocks) == 1
    clock.now = T0 + timedelta(minutes=15, seconds=1)
    assert not g.blocked("203.0.113.9") and g.blocks() == []


def test_failures_spread_wider_than_the_window_do_not_block() -> None:
    clock, blocks = Clock(), list[Block]()
    g = guard(clock, blocks)
    for _ in range(10):
        g.failed("203.0.113.9", "kiosk-vorey-1")
        clock.now += timedelta(seconds=31)
    assert blocks == [] and not g.blocked("203.0.113.9")


def test_an_event_without_address_is_ignored() -> None:
    clock, blocks = Clock(), list[Block]()
    g = guard(clock, blocks)
    for _ in range(5):
        g.on_event({"to-user": "x"})
    assert blocks == []
