"""The supervisor restarts a baresip that died, which registers again; the controller
reconnects and keeps working; bad commands get clear errors."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from pvp.kiosk.baresip import (
    BaresipCommandError,
    BaresipTimeout,
    MediaDevice,
    MediaEncryption,
    ProcessState,
    RegistrationState,
    SipAccount,
    Transport,
)

from .conftest import requires_baresip, run, running_engine, wait_until
from .registrar import running_registrar

pytestmark = requires_baresip


def account(registrar_port: int) -> SipAccount:
    return SipAccount(
        "kiosk-vorey-1",
        "pvp.test",
        password="s3cret",
        registrar_host="127.0.0.1",
        registrar_port=registrar_port,
        transport=Transport.UDP,
        mediaenc=MediaEncryption.NONE,
    )


def test_killed_baresip_is_restarted_and_registers_again(tmp_path: Path) -> None:
    async def body() -> None:
        async with (
            running_registrar() as registrar,
            running_engine(tmp_path, "kiosk", account=account(registrar.port)) as kiosk,
        ):
            ctrl = kiosk.controller
            links: list[bool] = []
            ctrl.add_connection_listener(links.append)
            registered = lambda: ctrl.registration is RegistrationState.REGISTERED  # noqa: E731
            await wait_until(registered, 5, "registered")
            assert "sip:kiosk-vorey-1@pvp.test" in registrar.registers[-1]
            assert kiosk.states == [ProcessState.STARTING, ProcessState.RUNNING]
            first_pid = kiosk.process.pid
            assert first_pid is not None
            seen = len(registrar.registers)

            os.kill(first_pid, signal.SIGKILL)
            await wait_until(lambda: len(kiosk.states) == 4, 10, "restarted")
            assert kiosk.states[-2:] == [ProcessState.RESTARTING, ProcessState.RUNNING]
            assert kiosk.process.pid != first_pid
            assert kiosk.process.restarts == 1
            assert links[:2] == [False, True]  # the controller lost baresip, then found the new one
            # The new process registers by itself; the controller hears it (or asks).
            await wait_until(registered, 5, "registered again")
            assert len(registrar.registers) > seen
            assert "help" in (await ctrl.command("help")).lower()

    run(body())


def test_refused_registration_is_reported(tmp_path: Path) -> None:
    async def body() -> None:
        async with (
            running_registrar("403 Forbidden") as registrar,
            running_engine(tmp_path, "kiosk", account=account(registrar.port)) as kiosk,
        ):
            failed = lambda: kiosk.controller.registration is RegistrationState.FAILED  # noqa: E731
            await wait_until(failed, 5, "failed")
            assert registrar.registers

    run(body())


def test_bad_commands_get_clear_errors_and_the_controller_keeps_working(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_engine(tmp_path, "kiosk") as kiosk:
            ctrl = kiosk.controller
            with pytest.raises(BaresipCommandError, match="command not found"):
                await ctrl.command("no_such_command")
            # Malformed JSON, or a request without "command", gets no answer at all.
            await ctrl.request_raw(b'{"command": "help", "token": ', timeout=1)
            with pytest.raises(BaresipTimeout, match="no answer from baresip"):
                await ctrl.request_raw({"params": "sip:x@127.0.0.1"}, timeout=0.5)
            # "ok": true but the text says it failed.
            result = await ctrl.request("ausrc", "aufile,/nonexistent/silence.wav")
            assert result.ok and result.failed
            with pytest.raises(BaresipCommandError, match="no such audio-source"):
                await ctrl.set_audio_source(MediaDevice("nosuchdriver", "x"))
            with pytest.raises(BaresipCommandError, match="Format should be"):
                await ctrl.command("auplay", "no-comma")
            with pytest.raises(BaresipCommandError, match="baresip cuts at 1023"):
                await ctrl.dial("sip:" + "x" * 1100 + "@127.0.0.1")
            with pytest.raises(BaresipCommandError, match="not a SIP URI"):
                await ctrl.dial("tel:0471000000")
            with pytest.raises(BaresipCommandError, match="not a baresip command"):
                await ctrl.command("dial sip:x@y")
            # Still the same connection, still answering.
            assert ctrl.connected
            assert "help" in (await ctrl.command("help")).lower()
            assert kiosk.process.restarts == 0

    run(body())


def test_controller_takes_ctrl_tcp_back_from_another_client(tmp_path: Path) -> None:
    """ctrl_tcp serves one client: a newcomer evicts the controller, which reconnects."""

    async def body() -> None:
        async with running_engine(tmp_path, "kiosk") as kiosk:
            ctrl = kiosk.controller
            links: list[bool] = []
            ctrl.add_connection_listener(links.append)
            reader, writer = await asyncio.open_connection("127.0.0.1", kiosk.config.ctrl_port)
            try:
                await wait_until(lambda: links[-2:] == [False, True], 5, "reconnected")
                assert await reader.read() == b""  # the newcomer was evicted in turn
            finally:
                writer.close()
                await writer.wait_closed()
            assert "help" in (await ctrl.command("help")).lower()

    run(body())
