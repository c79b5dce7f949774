"""The kiosk's behaviour, driven as a pure state machine: inputs in, effects out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pvp.kiosk import events
from pvp.kiosk.availability import describe
from pvp.kiosk.screen import View
from pvp.kiosk.state import KioskMachine, Phase, parse_refusal

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2006, 11, 24, 10, 0, tzinfo=PARIS)
MSA_OPEN = describe(
    {"service": "msa", "decision": "walk_in", "open_until": "2006-11-24T12:00:00+01:00"}, "MSA", NOW
)
ANPE_CLOSED = describe(
    {
        "service": "anpe",
        "decision": "closed",
        "reason": "outside_windows",
        "next_opening": "2006-11-29T09:00:00+01:00",
    },
    "ANPE",
    NOW,
)


def machine() -> KioskMachine:
    return KioskMachine(now=NOW)


def in_call(m: KioskMachine) -> KioskMachine:
    m.handle(events.Pressed(MSA_OPEN))
    m.handle(events.CallEstablished("sip-call-1"))
    m.handle(events.Connected("fs-uuid-1"))
    return m


def views(effects: list) -> list[View]:  # type: ignore[type-arg]
    return [e.view for e in effects if isinstance(e, events.Show)]


def test_press_of_an_open_service_dials_it() -> None:
    m = machine()
    effects = m.handle(events.Pressed(MSA_OPEN))
    assert events.Dial("msa") in effects
    assert events.Show(View.CALLING, {"service_label": "MSA"}) in effects
    assert m.phase is Phase.CALLING


def test_press_of_a_closed_service_says_when_it_opens_then_goes_back_to_idle() -> None:
    m = machine()
    effects = m.handle(events.Pressed(ANPE_CLOSED))
    assert not any(isinstance(e, events.Dial) for e in effects)
    (shown,) = [e for e in effects if isinstance(e, events.Show)]
    assert shown.view is View.CLOSED
    assert shown.data["title"] == "Le service ANPE est fermé"
    assert shown.data["next_text"] == "Il ouvrira mercredi 29 novembre à 9\u00a0h\u00a000."
    assert shown.data["reason_text"] == "En dehors des heures d'ouverture"
    (timer,) = [e for e in effects if isinstance(e, events.StartNoticeTimer)]
    assert m.handle(events.NoticeExpired(timer.token - 1)) == []  # an older timer
    assert events.ShowIdle() in m.handle(events.NoticeExpired(timer.token))
    assert m.phase is Phase.IDLE


def test_buttons_do_nothing_during_a_call_but_the_hang_up_key_ends_it() -> None:
    m = in_call(machine())
    assert m.handle(events.Pressed(MSA_OPEN)) == []
    assert m.handle(events.Pressed(ANPE_CLOSED)) == []
    effects = m.handle(events.HangUpPressed())
    assert effects[0] == events.HangUpCall() and events.ShowIdle() in effects
    assert m.phase is Phase.IDLE
    assert m.handle(events.CallClosed("sip-call-1", "Connection reset by user")) == []
    assert m.handle(events.HangUpPressed()) == []  # nothing to hang up


def test_established_then_queue_positions_then_bridged() -> None:
    m = machine()
    m.handle(events.Pressed(MSA_OPEN))
    # Parked: the screen stays on "calling" (no "in call" flashing before "waiting").
    assert views(m.handle(events.CallEstablished("sip-call-1"))) == []
    (shown,) = m.handle(events.QueuePosition("fs-uuid-1", 3, 400))
    assert isinstance(shown, events.Show) and shown.view is View.WAITING
    assert shown.data == {"service_label": "MSA", "position": 3, "wait_text": "environ 7 minutes"}
    assert m.phase is Phase.WAITING
    assert m.handle(events.QueuePosition("fs-uuid-other", 1, 10)) == []  # a stale call's message
    bridged = m.handle(events.Connected("fs-uuid-1"))
    assert views(bridged) == [View.IN_CALL] and events.SendKeyframes() in bridged
    assert m.is_current_call("fs-uuid-1") and m.is_current_call("sip-call-1")
    assert not m.is_current_call("fs-uuid-other") and not m.is_current_call(None)


def test_refusal_by_the_switch_shows_its_reason() -> None:
    m = machine()
    m.handle(events.Pressed(MSA_OPEN))
    effects = m.handle(
        events.CallClosed(None, "480 Closed; reason=public_holiday; next=2006-11-27T09:00:00+01:00")
    )
    (shown,) = [e for e in effects if isinstance(e, events.Show)]
    assert shown.view is View.CLOSED
    assert shown.data["reason_text"] == "Jour férié"
    assert "lundi 27 novembre" in shown.data["next_text"]
    assert parse_refusal("486 Busy Here") == (486, {})


def test_wait_ended_by_the_switch_explains_why() -> None:
    m = in_call(machine())
    m.handle(events.QueuePosition("fs-uuid-1", 1, 30))
    assert m.handle(events.QueueEnded("fs-uuid-1", "Aucun conseiller n'est disponible.")) == []
    effects = m.handle(events.CallClosed("sip-call-1", "Connection reset by peer"))
    (shown,) = [e for e in effects if isinstance(e, events.Show)]
    assert shown.data["reason_text"] == "Aucun conseiller n'est disponible."


def test_counsellor_ending_the_call_brings_back_idle() -> None:
    m = in_call(machine())
    assert events.ShowIdle() in m.handle(
        events.CallClosed("sip-call-1", "Connection reset by peer")
    )


def test_dial_failure_is_explained() -> None:
    m = machine()
    m.handle(events.Pressed(MSA_OPEN))
    assert views(m.handle(events.DialFailed("baresip down"))) == [View.CLOSED]
    assert m.phase is Phase.NOTICE


def test_handset_mid_call_switches_audio_and_tells_the_counsellor() -> None:
    m = in_call(machine())
    effects = m.handle(events.HookChanged(lifted=True))
    assert effects[:2] == [events.UseAudio(handset=True), events.TellCounsellor(private=True)]
    assert events.Show(View.IN_CALL, {"service_label": "MSA", "private": True}) in effects
    assert m.handle(events.HookChanged(lifted=True)) == []  # no change, no effect
    back = m.handle(events.HookChanged(lifted=False))
    assert back[:2] == [events.UseAudio(handset=False), events.TellCounsellor(private=False)]


def test_handset_lifted_before_the_call() -> None:
    m = machine()
    assert m.handle(events.HookChanged(lifted=True)) == [events.UseAudio(handset=True)]
    m.handle(events.Pressed(MSA_OPEN))
    effects = m.handle(events.CallEstablished("sip-call-1"))
    assert events.TellCounsellor(private=True) in effects
    shown = m.handle(events.Connected("fs-uuid-1"))
    assert events.Show(View.IN_CALL, {"service_label": "MSA", "private": True}) in shown


def test_engine_restart_shows_restarting_then_idle_and_keeps_the_handset() -> None:
    m = in_call(machine())
    m.handle(events.HookChanged(lifted=True))
    assert views(m.handle(events.EngineDown())) == [View.RESTARTING]
    assert m.handle(events.Pressed(MSA_OPEN)) == []  # nothing dials while the engine is down
    assert m.handle(events.HookChanged(lifted=False)) == []
    m.handle(events.HookChanged(lifted=True))
    effects = m.handle(events.EngineUp())
    assert events.ShowIdle() in effects and events.UseAudio(handset=True) in effects
    assert m.phase is Phase.IDLE


def test_counsellor_text_and_views_only_during_a_call() -> None:
    m = machine()
    assert m.handle(events.CounsellorText("Bonjour")) == []
    assert m.handle(events.CounsellorView(View.PRINTING, {"pages": 2})) == []
    in_call(m)
    assert m.handle(events.CounsellorText("Bonjour")) == [events.SetNotice("Bonjour")]
    assert m.handle(events.CounsellorView(View.PRINTING, {"pages": 2})) == [
        events.Show(View.PRINTING, {"pages": 2})
    ]
    assert m.handle(events.CounsellorView(View.IDLE, {})) == []  # not a view a counsellor may set
    # The handset does not wipe the counsellor's view.
    assert not any(isinstance(e, events.Show) for e in m.handle(events.HookChanged(lifted=True)))
    assert views(m.handle(events.CounsellorView(View.IN_CALL, {}))) == [View.IN_CALL]


def test_parked_call_shows_no_flicker_and_a_silent_switch_still_shows_the_call() -> None:
    m = machine()
    m.handle(events.Pressed(MSA_OPEN))
    effects = m.handle(events.CallEstablished("sip-call-1"))
    (timer,) = [e for e in effects if isinstance(e, events.StartTimer)]
    assert timer.timer is events.Timer.CONNECT and views(effects) == []
    # The queue news arrives first: waiting, and the timer no longer shows "in call".
    assert views(m.handle(events.QueuePosition("fs-uuid-1", 1, 60))) == [View.WAITING]
    assert m.handle(events.TimerFired(events.Timer.CONNECT, timer.token)) == []
    # A switch that says nothing (static fallback): the call is shown once the timer fires.
    m2 = machine()
    m2.handle(events.Pressed(MSA_OPEN))
    (t2,) = [e for e in m2.handle(events.CallEstablished("c2")) if isinstance(e, events.StartTimer)]
    assert views(m2.handle(events.TimerFired(events.Timer.CONNECT, t2.token))) == [View.IN_CALL]


def test_a_switch_that_stays_unreachable_puts_the_kiosk_out_of_order() -> None:
    m = machine()
    effects = m.handle(events.EngineDown())
    (timer,) = [e for e in effects if isinstance(e, events.StartTimer)]
    assert timer.timer is events.Timer.UNREACHABLE and views(effects) == [View.RESTARTING]
    (shown,) = m.handle(events.TimerFired(events.Timer.UNREACHABLE, timer.token))
    assert isinstance(shown, events.Show) and shown.view is View.OUT_OF_ORDER
    assert m.handle(events.Pressed(MSA_OPEN)) == []  # still nothing dials
    assert events.ShowIdle() in m.handle(events.EngineUp())  # back as soon as the switch is
    # A timer armed before the link came back changes nothing.
    assert m.handle(events.TimerFired(events.Timer.UNREACHABLE, timer.token)) == []


def test_an_appointment_only_refusal_says_how_to_get_an_appointment() -> None:
    anpe = describe(
        {
            "service": "anpe",
            "decision": "closed",
            "reason": "appointment_only",
            "next_opening": "2006-11-24T10:00:00+01:00",
        },
        "ANPE",
        datetime(2006, 11, 24, 9, 0, tzinfo=PARIS),
    )
    assert anpe.text == "Sur rendez-vous uniquement" and not anpe.open
    (shown,) = [e for e in machine().handle(events.Pressed(anpe)) if isinstance(e, events.Show)]
    assert shown.data["title"] == "Le service ANPE reçoit sur rendez-vous"
    assert "Pour obtenir un rendez-vous" in shown.data["next_text"]
    assert "ouvrira" not in str(shown.data)
    # The switch's refusal of the same kind says the same.
    m = machine()
    m.handle(events.Pressed(MSA_OPEN))
    refused = m.handle(
        events.CallClosed(
            None, "480 Closed; reason=appointment_only; next=2006-11-29T09:00:00+01:00"
        )
    )
    (shown,) = [e for e in refused if isinstance(e, events.Show)]
    assert "Pour obtenir un rendez-vous" in shown.data["next_text"]
