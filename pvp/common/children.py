"""Child processes that must not outlive PVP (FreeSWITCH, baresip in tests)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import signal

_PR_SET_PDEATHSIG = 1
log = logging.getLogger(__name__)


def die_with_parent() -> None:
    """``preexec_fn`` for Popen: the child gets SIGTERM when its parent dies.

    Runs in the child before exec: if the parent is killed outright, the child does not live
    on as an orphan still holding its ports.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def terminate(process: asyncio.subprocess.Process | None, timeout: float) -> None:
    """SIGTERM a child (it may say goodbye: baresip unregisters), SIGKILL if it lingers."""
    if process is None or process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(timeout):
            await process.wait()
    except TimeoutError:
        log.warning("pid %s ignored SIGTERM for %s s; killing it", process.pid, timeout)
        process.kill()
        await process.wait()
