"""Which event sockets the dispatcher opens, and how kiosk messages are addressed, from the
settings: one switch exactly as before pools, or each switch of a pool behind Kamailio."""

from __future__ import annotations

import pytest

from pvp.config import Settings
from pvp.freeswitch.esl import ESLClient
from pvp.freeswitch.pool import SwitchPool, address, connect, proxy_address, switch_addresses
from pvp.wire.chat import chat_command


def test_one_switch_is_one_plain_client_at_esl_host(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, esl_host="127.0.0.1", esl_port=8123)
    assert switch_addresses(settings) == [("127.0.0.1", 8123)]
    socket = connect(settings, "secret", ["CHANNEL_PARK"])
    assert isinstance(socket, ESLClient) and (socket.host, socket.port) == ("127.0.0.1", 8123)
    assert proxy_address(settings) is None


def test_a_pool_is_one_client_per_switch(tmp_path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        esl_switches="192.0.2.11:8021, 192.0.2.12:8022",
        sip_proxy="192.0.2.5:5060",
    )
    pool = connect(settings, "secret", ["CHANNEL_PARK"])
    assert isinstance(pool, SwitchPool)
    assert [(c.host, c.port) for c in pool.clients] == [
        ("192.0.2.11", 8021),
        ("192.0.2.12", 8022),
    ]
    assert proxy_address(settings) == ("192.0.2.5", 5060)


@pytest.mark.parametrize("bad", ["192.0.2.11", "host:port", ":8021", "192.0.2.11:70000"])
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        address(bad)


def test_kiosk_messages_go_to_the_registration_or_through_kamailio() -> None:
    direct = chat_command("kiosk-vorey-1", "{}", "application/json", "pvp.test")
    assert direct == "chat sip|pvp@pvp.test|kiosk-vorey-1@pvp.test|{}|application/json"
    pooled = chat_command("kiosk-vorey-1", "{}", "a/b", "pvp.test", "pvp", "192.0.2.5:5060")
    assert pooled == "chat sip|pvp@pvp.test|pvp/sip:kiosk-vorey-1@192.0.2.5:5060|{}|a/b"
