"""Child processes that must not outlive PVP (FreeSWITCH under `pvp serve`).

The one place PVP starts a long-lived child: the kiosk agent starts none since the kiosk page
carries the call (its baresip supervisor left with baresip); systemd supervises the programs.
"""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for Popen: the child gets SIGTERM when its parent dies.

    Runs in the child before exec: if the parent is killed outright, the child does not live
    on as an orphan still holding its ports.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
