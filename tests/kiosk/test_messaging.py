"""The kiosk's SIP messaging endpoint against a TLS switch stand-in (testkit/sip_switch.py).

Real TLS (Python's ssl on both sides, certificates from a test CA), real digest challenges;
FreeSWITCH itself is exercised in tests/live/.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from pvp.kiosk.messaging import (
    IncomingMessage,
    MessagingConfig,
    MessagingEndpoint,
    RegistrationState,
)
from pvp.wire.bundle import Bundle
from pvp.wire.messages import ANSWER_TYPE, COMMAND_TYPE, Answer, Status, decode_answer
from testkit.certs import SWITCH_NAME, Identity, Pki
from testkit.loop import run
from testkit.sip_switch import SwitchStandIn, running_switch

DOMAIN = "pvp.auvergne.test"
USER, PASSWORD = "kiosk-vorey-1", "s3cret-of-the-kiosk"


def config(pki: Pki, port: int, **changes: object) -> MessagingConfig:
    base = MessagingConfig(
        user=USER,
        domain=DOMAIN,
        password=PASSWORD,
        host="127.0.0.1",
        port=port,
        ca_file=pki.ca,
        server_name=SWITCH_NAME,
        reconnect_min=0.05,
        reconnect_max=0.2,
        request_timeout=3.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_registers_over_verified_tls_and_exchanges_messages(pki: Pki) -> None:
    received: list[IncomingMessage] = []

    def on_message(message: IncomingMessage) -> int:
        received.append(message)
        return 200 if message.content_type == COMMAND_TYPE else 415

    async def body() -> SwitchStandIn:
        async with running_switch(DOMAIN, {USER: PASSWORD}, pki.switch) as switch:
            endpoint = MessagingEndpoint(config(pki, switch.port), on_message)
            endpoint.start()
            try:
                await endpoint.wait_registered(5)
                assert switch.registered(USER)
                command = json.dumps({"v": 1, "type": "command", "id": "c1", "name": "text"})
                assert await switch.chat(USER, command, COMMAND_TYPE) == 200
                assert await switch.chat(USER, "bonjour", "text/plain") == 415
                # The answer meets a 407 challenge first, then is relayed.
                status = await endpoint.send_answer(Answer("c1", Status.DONE))
                assert status == 202
            finally:
                await endpoint.close()
            assert not switch.registered(USER), "closing unregisters"
            return switch

    switch = run(body())
    assert [m.content_type for m in received] == [COMMAND_TYPE, "text/plain"]
    assert received[0].sender == "pvp"
    (answer,) = switch.messages
    assert (answer.sender, answer.to, answer.content_type) == (USER, "pvp", ANSWER_TYPE)
    assert decode_answer(answer.body) == Answer("c1", Status.DONE)


@pytest.mark.parametrize("impostor", ["rogue", "wrong_host"])
def test_a_switch_that_cannot_prove_its_identity_gets_nothing(pki: Pki, impostor: str) -> None:
    """Another CA, or the right CA for another name: TLS fails, not one SIP byte is sent."""
    identity: Identity = getattr(pki, impostor)

    async def body() -> tuple[SwitchStandIn, MessagingEndpoint]:
        async with running_switch(DOMAIN, {USER: PASSWORD}, identity) as switch:
            endpoint = MessagingEndpoint(config(pki, switch.port), lambda m: 200)
            endpoint.start()
            await asyncio.sleep(1.0)  # several connection attempts
            await endpoint.close()
            return switch, endpoint

    switch, endpoint = run(body())
    assert switch.raw == b""
    assert switch.registers == []
    assert "CERTIFICATE_VERIFY_FAILED" in (endpoint.last_error or "")


def test_refused_registration_is_reported_and_retried(pki: Pki) -> None:
    states: list[RegistrationState] = []

    async def body() -> int:
        async with running_switch(DOMAIN, {USER: "another secret"}, pki.switch) as switch:
            endpoint = MessagingEndpoint(config(pki, switch.port), lambda m: 200)
            endpoint.add_listener(states.append)
            endpoint.start()
            await switch.wait_for(lambda: switch.raw.count(b"REGISTER sip:") >= 4, 5)
            await endpoint.close()
            return switch.raw.count(b"REGISTER sip:")

    attempts = run(body())
    assert RegistrationState.FAILED in states
    assert RegistrationState.REGISTERED not in states
    assert attempts >= 4  # (challenge + answer) twice: it tries again


def test_reconnects_and_registers_again_when_the_link_drops(pki: Pki) -> None:
    async def body() -> list[str]:
        async with running_switch(DOMAIN, {USER: PASSWORD}, pki.switch) as switch:
            endpoint = MessagingEndpoint(config(pki, switch.port), lambda m: 200)
            endpoint.start()
            await endpoint.wait_registered(5)
            switch.drop(USER)
            await switch.wait_for(lambda: len(switch.registers) >= 2, 5)
            await endpoint.wait_registered(5)
            assert await switch.chat(USER, "{}", COMMAND_TYPE) == 200
            await endpoint.close()
            return switch.registers

    first, second = run(body())[:2]
    assert first != second, "a new connection, a new contact"
    assert ";transport=tls" in first


def test_bundle_gives_the_switch_and_ca(tmp_path: Path) -> None:
    bundle = {
        "kiosk": USER,
        "sip": {
            "domain": DOMAIN,
            "user": USER,
            "password": PASSWORD,
            "registrar_host": "fs.pvp.test",
            "registrar_port": 5061,
        },
        "control_plane": {"url": "https://pvp.test"},
        "buttons": [{"service": "msa", "key": "KEY_F1"}],
        "ca_file": "ca.pem",
    }
    cfg = MessagingConfig.from_bundle(Bundle.model_validate(bundle), tmp_path)
    assert (cfg.host, cfg.port, cfg.server_name) == ("fs.pvp.test", 5061, "fs.pvp.test")
    assert cfg.ca_file == tmp_path / "ca.pem"


def test_after_a_registration_the_back_off_starts_over(pki: Pki) -> None:
    # Issue 15: the back-off grew with every loss and never shrank, so after a few losses a
    # switch restart left the kiosk unregistered ~34 s after the switch was back.
    async def body() -> float:
        async with running_switch(DOMAIN, {USER: PASSWORD}, pki.switch) as switch:
            cfg = config(pki, switch.port, reconnect_min=0.05, reconnect_max=2.0)
            endpoint = MessagingEndpoint(cfg, lambda m: 200)
            endpoint.start()
            await endpoint.wait_registered(5)
            for losses in range(1, 7):  # 0.05 s doubled six times would pass 2 s
                switch.drop(USER)
                await switch.wait_for(lambda n=losses: len(switch.registers) > n, 5)
                await endpoint.wait_registered(5)
            started = asyncio.get_running_loop().time()
            switch.drop(USER)
            await switch.wait_for(lambda: len(switch.registers) > 7, 5)
            took = asyncio.get_running_loop().time() - started
            await endpoint.close()
            return took

    assert run(body()) < 0.5


def test_a_kiosk_retries_the_switch_often_enough_to_be_back_within_seconds() -> None:
    assert MessagingConfig("k", "d", "p", "h").reconnect_max <= 5
