"""The kiosk's hardware: service buttons, hang-up key and handset hook switch, via evdev.

Keys are read with python-evdev from the input devices named in the bundle (or every keyboard
found); each key event becomes a :class:`Press`, :class:`HangUp` or :class:`Hook` for the agent.
The mapping is pure (:class:`KeyMap.translate`), so tests feed it the same ``InputEvent``
objects python-evdev yields when the machine has no input devices to read.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from evdev import InputDevice, InputEvent, ecodes, list_devices

from pvp.wire.bundle import Bundle

log = logging.getLogger("pvp.kiosk.buttons")
KEY_DOWN, KEY_UP, KEY_REPEAT = 1, 0, 2


@dataclass(frozen=True)
class Press:
    service: str


@dataclass(frozen=True)
class HangUp:
    pass


@dataclass(frozen=True)
class Hook:
    lifted: bool  # True: the handset is off its hook (private conversation)


Action = Press | HangUp | Hook


def key_code(name: str) -> int:
    code = ecodes.ecodes.get(name)
    if not isinstance(code, int) or not name.startswith(("KEY_", "BTN_")):
        raise ValueError(f"unknown key name {name!r} (expected e.g. KEY_F1)")
    return code


@dataclass(frozen=True)
class KeyMap:
    services: dict[int, str]  # key code -> service code
    hangup: int
    hook: int
    # Most USB handsets close a contact when hung up; some report the reverse.
    hook_pressed_means_lifted: bool = True

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> KeyMap:
        services = {key_code(b.key): b.service for b in bundle.buttons}
        hangup, hook = key_code(bundle.hangup_key), key_code(bundle.hook_key)
        if len(services) != len(bundle.buttons) or {hangup, hook} & set(services):
            raise ValueError("each button, the hang-up key and the hook need their own key")
        return cls(services, hangup, hook, bundle.hook_pressed_means_lifted)

    def translate(self, event: InputEvent) -> Action | None:
        """The action of one evdev event, or None (other event types, key repeats, releases)."""
        if event.type != ecodes.EV_KEY or event.value == KEY_REPEAT:
            return None
        if event.code == self.hook:
            return Hook(lifted=(event.value == KEY_DOWN) == self.hook_pressed_means_lifted)
        if event.value != KEY_DOWN:
            return None
        if event.code == self.hangup:
            return HangUp()
        service = self.services.get(event.code)
        return Press(service) if service else None


def keyboards(paths: Iterable[str] | None = None) -> list[InputDevice]:
    """The devices to read: those named, or every device that has keys."""
    found = []
    for path in paths or list_devices():
        try:
            device = InputDevice(path)
        except OSError as exc:
            log.warning("cannot open input device %s: %s", path, exc)
            continue
        if ecodes.EV_KEY in device.capabilities():
            found.append(device)
    return found


class ButtonReader:
    """Reads key events from devices in a thread and hands the agent its actions."""

    def __init__(
        self, keymap: KeyMap, devices: list[InputDevice], on_action: Callable[[Action], None]
    ) -> None:
        self.keymap = keymap
        self.devices = {d.fd: d for d in devices}
        self.on_action = on_action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="buttons", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def feed(self, event: InputEvent) -> None:
        """The one path every event takes, from a device or injected by a test."""
        action = self.keymap.translate(event)
        if action is not None:
            try:
                self.on_action(action)
            except Exception:  # one failing action must not stop the buttons
                log.exception("action %s failed", action)

    def _run(self) -> None:
        while not self._stop.is_set() and self.devices:
            ready, _, _ = select.select(list(self.devices), [], [], 0.5)
            for fd in ready:
                try:
                    for event in self.devices[fd].read():
                        self.feed(event)
                except OSError as exc:  # unplugged: keep the other devices going
                    log.warning("input device %s lost: %s", self.devices[fd].path, exc)
                    del self.devices[fd]
