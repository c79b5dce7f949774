"""The command and answer messages between counsellors and kiosks (contract: sip/messages.md).

Pure encoding and decoding, shared by the control plane and the kiosk agent. Decoding never
trusts the body: anything malformed raises :class:`MessageError` with a French reason.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pvp.common.errors import PvpError

VERSION = 1
COMMAND_TYPE = "application/vnd.pvp.command+json"
ANSWER_TYPE = "application/vnd.pvp.answer+json"
COMMAND_NAMES = frozenset({"text", "status", "display", "print", "scan", "fax", "sign"})
ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_BODY = 2 * 1024 * 1024
# How long a sealed message stays valid, either side of the kiosk's clock (kiosks keep NTP
# time); a kiosk remembers the ids it has run for as long.
SEAL_WINDOW = 300
# Bytes the seal adds to a body: ',"ts":<10 digits>,"mac":"<64 hex>"' and some margin.
SEAL_OVERHEAD = 96


class MessageError(PvpError, ValueError, code="bad_message"):
    """A body that is not a valid message; ``command_id`` is set when one could be read."""

    def __init__(self, reason: str, command_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.command_id = command_id


class SealError(MessageError, code="bad_seal"):
    """A body the control plane did not seal for this kiosk, or sealed too long ago."""


class Status(enum.StrEnum):
    ACCEPTED = "accepted"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Command:
    id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    call: str | None = None
    sender: str | None = None  # the counsellor's SIP user ("from")


@dataclass(frozen=True)
class Answer:
    id: str
    status: Status
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def one_line(value: dict[str, Any]) -> str:
    """JSON on one line with no ``|``: FreeSWITCH's ``chat`` API splits its arguments on it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("|", "\\u007c")


def encode_command(command: Command) -> str:
    if not ID_RE.match(command.id):
        raise MessageError(f"identifiant de commande invalide : {command.id!r}")
    if command.name not in COMMAND_NAMES:
        raise MessageError(f"commande inconnue : {command.name}", command.id)
    body = {
        "v": VERSION,
        "type": "command",
        "id": command.id,
        "name": command.name,
        "call": command.call,
        "from": command.sender,
        "args": command.args,
    }
    return one_line(body)


def encode_answer(answer: Answer) -> str:
    body = {
        "v": VERSION,
        "type": "answer",
        "id": answer.id,
        "status": answer.status.value,
        "reason": answer.reason,
        "details": answer.details,
    }
    return one_line(body)


def _load(body: str | bytes, kind: str) -> dict[str, Any]:
    value = _load_untyped(body)
    ident = value.get("id")
    ident = ident if isinstance(ident, str) and ID_RE.match(ident) else None
    if value.get("v") != VERSION:
        raise MessageError(f"version de protocole non prise en charge : {value.get('v')!r}", ident)
    if value.get("type") != kind:
        raise MessageError(f"type de message inattendu : {value.get('type')!r}", ident)
    if ident is None:
        raise MessageError("identifiant de commande absent ou invalide")
    return value


def decode_command(body: str | bytes) -> Command:
    value = _load(body, "command")
    ident = value["id"]
    name = value.get("name")
    if name not in COMMAND_NAMES:
        raise MessageError(f"commande inconnue : {name!r}", ident)
    args = value.get("args", {})
    if not isinstance(args, dict):
        raise MessageError("arguments de commande invalides", ident)
    call, sender = value.get("call"), value.get("from")
    if not all(v is None or isinstance(v, str) for v in (call, sender)):
        raise MessageError("champ call ou from invalide", ident)
    return Command(ident, name, args, call, sender)


def decode_answer(body: str | bytes) -> Answer:
    value = _load(body, "answer")
    try:
        status = Status(str(value.get("status")))
    except ValueError:
        raise MessageError(f"statut inconnu : {value.get('status')!r}", value["id"]) from None
    reason, details = value.get("reason"), value.get("details") or {}
    if not (reason is None or isinstance(reason, str)) or not isinstance(details, dict):
        raise MessageError("réponse mal formée", value["id"])
    if status is Status.FAILED and not reason:
        raise MessageError("un échec doit donner sa raison", value["id"])
    return Answer(value["id"], status, reason, details)


# -- seals: the control plane's proof on what it sends a kiosk ------------------------------
#
# The switch relays a MESSAGE from any registered account, and its From proves nothing; so
# every command and queue message carries an HMAC-SHA256 under the kiosk's own key (derived
# from the control plane's master secret; the kiosk's bundle carries it), with the time it was
# sealed. One kiosk's key, read on a public kiosk PC, commands that kiosk and no other.


def kiosk_key(master: str, kiosk: str) -> str:
    """The kiosk's command key (hex), derived from the control plane's master secret."""
    return hmac.new(
        master.encode(), b"pvp-kiosk-command\x00" + kiosk.encode(), "sha256"
    ).hexdigest()


def _mac(key: str, value: dict[str, Any]) -> str:
    # Over the canonical JSON of everything but the MAC: both ends are this module.
    unsealed = {k: v for k, v in value.items() if k != "mac"}
    canonical = json.dumps(unsealed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(bytes.fromhex(key), canonical.encode(), hashlib.sha256).hexdigest()


def seal(body: str, key: str, now: float) -> str:
    """``body`` (a JSON object) with the time ``now`` and its MAC under ``key``."""
    value = _load_untyped(body)
    value["ts"] = int(now)
    value["mac"] = _mac(key, value)
    return one_line(value)


def unseal(body: str | bytes, key: str | None, now: float) -> dict[str, Any]:
    """The object of a body sealed under ``key`` within :data:`SEAL_WINDOW` of ``now``.

    Raises :class:`SealError` before anything of the body is used otherwise.
    """
    value = _load_untyped(body)
    mac, ts = value.get("mac"), value.get("ts")
    if key is None:
        raise SealError("borne sans clé de commande : message refusé")
    if not isinstance(mac, str) or type(ts) is not int:
        raise SealError("message non signé par le centre de contrôle")
    if not hmac.compare_digest(mac, _mac(key, value)):
        raise SealError("signature du centre de contrôle invalide")
    if abs(now - ts) > SEAL_WINDOW:
        raise SealError(f"message périmé (signé il y a {int(now - ts)} s)")
    return value


class Sealer:
    """Seals what the control plane sends each kiosk (``master``: its secret)."""

    def __init__(self, master: str, clock: Callable[[], float] = time.time) -> None:
        self._master = master
        self._clock = clock

    def key(self, kiosk: str) -> str:
        return kiosk_key(self._master, kiosk)

    def __call__(self, kiosk: str, body: str) -> str:
        return seal(body, self.key(kiosk), self._clock())


# -- kiosk status (kiosk -> control plane, for the counsellor's console) --------------------

STATUS_TYPE = "application/vnd.pvp.status+json"
KIOSK_STATES = frozenset({"private", "public"})


def encode_status(kiosk: str, call: str | None, state: str, text: str) -> str:
    """A change the counsellor must know of, e.g. the handset lifted: ``private``."""
    if state not in KIOSK_STATES:
        raise MessageError(f"état de borne inconnu : {state}")
    body = {"v": VERSION, "type": "status", "kiosk": kiosk, "call": call, "state": state}
    return one_line({**body, "text": text})


def decode_status(body: str | bytes) -> dict[str, Any]:
    value = _load_untyped(body)
    if value.get("v") != VERSION or value.get("type") != "status":
        raise MessageError("message d'état mal formé")
    if value.get("state") not in KIOSK_STATES or not isinstance(value.get("kiosk"), str):
        raise MessageError("message d'état mal formé")
    return value


def _load_untyped(body: str | bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY:
        raise MessageError("message trop long")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MessageError("message illisible (JSON invalide)") from None
    if not isinstance(value, dict):
        raise MessageError("message illisible (un objet JSON est attendu)")
    return value
