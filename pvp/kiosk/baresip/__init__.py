"""Driver of the kiosk's SIP video engine, Debian's baresip 1.0.

- :mod:`.config` writes its configuration directory from typed values;
- :mod:`.controller` speaks ctrl_tcp (commands, answers, events);
- :mod:`.process` runs and supervises the ``baresip`` child process.
"""

from pvp.kiosk.baresip.config import (
    BaresipConfig,
    Contact,
    MediaDevice,
    MediaEncryption,
    SipAccount,
    Transport,
    find_binary,
    find_module_dir,
    write_config_dir,
)
from pvp.kiosk.baresip.controller import BaresipController, CommandResult, RegistrationState
from pvp.kiosk.baresip.errors import (
    BaresipCommandError,
    BaresipError,
    BaresipModuleMissing,
    BaresipNotConnected,
    BaresipTimeout,
)
from pvp.kiosk.baresip.events import BaresipEvent, EventType
from pvp.kiosk.baresip.process import BaresipProcess, InvalidStateError, ProcessState

__all__ = [
    "BaresipCommandError",
    "BaresipConfig",
    "BaresipController",
    "BaresipError",
    "BaresipEvent",
    "BaresipModuleMissing",
    "BaresipNotConnected",
    "BaresipProcess",
    "BaresipTimeout",
    "CommandResult",
    "Contact",
    "EventType",
    "InvalidStateError",
    "MediaDevice",
    "MediaEncryption",
    "ProcessState",
    "RegistrationState",
    "SipAccount",
    "Transport",
    "find_binary",
    "find_module_dir",
    "write_config_dir",
]
