"""Buttons, hang-up key and hook switch.

This machine has no /dev/input and no uinput (NOTES.md): a virtual keyboard cannot be created,
so the tests inject the same ``InputEvent`` objects python-evdev yields into the reader's one
event path (``ButtonReader.feed``), one layer above the device.
"""

from __future__ import annotations

import pytest
from evdev import InputEvent, ecodes

from pvp.kiosk.buttons import ButtonReader, HangUp, Hook, KeyMap, Press
from pvp.wire.bundle import Bundle

BUNDLE = {
    "kiosk": "kiosk-vorey-1",
    "sip": {"domain": "pvp.test", "user": "kiosk-vorey-1", "password": "s", "registrar_host": "fs"},
    "control_plane": {"url": "https://pvp.test"},
    "buttons": [{"service": "anpe", "key": "KEY_F1"}, {"service": "msa", "key": "KEY_F2"}],
    "hangup_key": "KEY_ESC",
    "hook_key": "KEY_PHONE",
}


def key(code: int, value: int) -> InputEvent:
    return InputEvent(0, 0, ecodes.EV_KEY, code, value)


def test_key_events_become_actions() -> None:
    actions = []
    reader = ButtonReader(KeyMap.from_bundle(Bundle.model_validate(BUNDLE)), [], actions.append)
    for event in [
        key(ecodes.KEY_F2, 1),
        key(ecodes.KEY_F2, 2),
        key(ecodes.KEY_F2, 0),  # press, repeat, up
        InputEvent(0, 0, ecodes.EV_SYN, 0, 0),
        key(ecodes.KEY_PHONE, 1),
        key(ecodes.KEY_PHONE, 0),
        key(ecodes.KEY_ESC, 1),
        key(ecodes.KEY_A, 1),
    ]:
        reader.feed(event)
    assert actions == [Press("msa"), Hook(lifted=True), Hook(lifted=False), HangUp()]


def test_reversed_hook_contact() -> None:
    keymap = KeyMap.from_bundle(
        Bundle.model_validate({**BUNDLE, "hook_pressed_means_lifted": False})
    )
    assert keymap.translate(key(ecodes.KEY_PHONE, 1)) == Hook(lifted=False)


def test_a_failing_action_does_not_stop_the_reader() -> None:
    seen = []

    def boom(action) -> None:
        seen.append(action)
        raise RuntimeError("dial failed")

    reader = ButtonReader(KeyMap.from_bundle(Bundle.model_validate(BUNDLE)), [], boom)
    reader.feed(key(ecodes.KEY_F1, 1))
    reader.feed(key(ecodes.KEY_F2, 1))
    assert seen == [Press("anpe"), Press("msa")]


@pytest.mark.parametrize(
    "bundle",
    [
        {**BUNDLE, "hangup_key": "KEY_F1"},
        {**BUNDLE, "buttons": [{"service": "anpe", "key": "KEY_NOPE"}]},
        {**BUNDLE, "buttons": [{"service": "anpe", "key": "F1"}]},
        {
            **BUNDLE,
            "buttons": [{"service": "a", "key": "KEY_F1"}, {"service": "b", "key": "KEY_F1"}],
        },
    ],
)
def test_bad_key_maps_are_refused(bundle: dict) -> None:
    with pytest.raises(ValueError):
        KeyMap.from_bundle(Bundle.model_validate(bundle))
