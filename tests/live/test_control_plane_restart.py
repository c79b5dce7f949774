"""A control plane restarted (``systemctl restart pvp-control``) while citizens talk and wait.

FreeSWITCH runs apart from the control plane, as under the rendered systemd units
(docs/deployment.md): stopping the control plane must leave the talking call up and the
waiting citizen parked, and the new control plane must finish the first call's record and
serve the second citizen in their place.
"""

from __future__ import annotations

import time

import pytest

from testkit.calls import (
    answer,
    call_of,
    ended_record,
    eventually,
    hang_up,
    press,
    record,
    rings,
    waiting_calls,
)
from testkit.live_switch import WRAP_UP_SECONDS, Switch

from .test_dispatch import C1, PERMANENCE, counsellor, kiosk, talking

pytestmark = pytest.mark.live

DOWNTIME_SECONDS = 3  # systemd's RestartSec=2 plus the new process's start


def test_a_control_plane_restart_mid_call_and_mid_wait_loses_no_call_and_no_place(
    fresh: Switch,
) -> None:
    fresh.travel_to(PERMANENCE)
    msa = counsellor(fresh, C1)
    first, second = kiosk(fresh, "kiosk-vorey-1"), kiosk(fresh, "kiosk-vorey-2")
    press(first, "msa")
    rings(msa, "kiosk-vorey-1")
    answer(msa)
    assert eventually(lambda: talking(fresh, "kiosk-vorey-1"))
    press(second, "msa")
    assert eventually(lambda: waiting_calls(fresh) == ["kiosk-vorey-2"])
    talking_call, waiting_call = call_of(fresh, "kiosk-vorey-1"), call_of(fresh, "kiosk-vorey-2")
    answered_at = record(fresh, talking_call).answered_at
    # Two kiosk legs and the counsellor's.
    assert eventually(lambda: len(fresh.esl.channels()) == 3), fresh.esl.channels()

    fresh.control_plane.stop()
    time.sleep(DOWNTIME_SECONDS)
    # Nobody was cut off while no control plane ran: every leg is still in the switch.
    for ua in (first, second, msa):
        with pytest.raises(TimeoutError):
            ua.wait_event("CALL_CLOSED", timeout=0.1)
    legs = {c["uuid"] for c in fresh.esl.channels()}
    assert len(legs) == 3 and {talking_call, waiting_call} <= legs
    fresh.control_plane.start()

    assert talking(fresh, "kiosk-vorey-1")
    assert waiting_calls(fresh) == ["kiosk-vorey-2"]
    hang_up(first)
    msa.wait_event("CALL_CLOSED", timeout=5)
    rings(msa, "kiosk-vorey-2", timeout=WRAP_UP_SECONDS + 5)
    answer(msa)
    # Served once FreeSWITCH confirms the bridge (the record gets its answer time then).
    assert eventually(lambda: record(fresh, waiting_call).answered_at is not None)
    hang_up(second)
    done = ended_record(fresh, talking_call)
    assert done.outcome == "served" and done.counsellor_id == C1, (done.outcome, done.reason)
    assert done.answered_at == answered_at and done.ended_at is not None
    served = ended_record(fresh, waiting_call)
    assert served.outcome == "served" and served.counsellor_id == C1, served.reason
