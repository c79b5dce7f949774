"""Commands from the counsellor (sip/messages.md): decoded, checked, routed to a handler.

Each command name has one handler, registered with :meth:`CommandRouter.register`
(``text`` and ``status`` by the agent; ``display``, ``print``, ``scan``, ``fax`` by
:mod:`pvp.kiosk.documents`). A handler gets the command and a ``reply`` function; it sends
exactly one final answer (``done`` or ``failed``), possibly after ``accepted``. ``reply`` may
be called from any thread (printing and scanning run in worker threads).

Everything the router refuses — malformed body, unknown or unhandled name, a call other than
the current one — gets a ``failed`` answer when its id is readable, and reaches no handler.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from pvp.wire.identities import CONTROL_PLANE_USER
from pvp.wire.messages import COMMAND_TYPE, Answer, Command, MessageError, Status, decode_command

log = logging.getLogger("pvp.kiosk.commands")

Reply = Callable[[Answer], None]
Handler = Callable[[Command, Reply], None]
CallCheck = Callable[[str | None], bool]

NOT_THIS_CALL = "pas d'appel en cours avec ce conseiller"
HANDLER_FAILED = "la borne n'a pas pu exécuter la commande"
# Answers remembered for repeated ids (a retransmitted MESSAGE, a replay after a restart).
REMEMBERED = 512


@dataclass(frozen=True)
class Received:
    """What the router did with one MESSAGE: the SIP status to answer it with."""

    sip_status: int
    command: Command | None = None


def media_type(content_type: str | None) -> str:
    """``application/JSON; charset=utf-8`` → ``application/json``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _received_fax(command: Command) -> bool:
    """A fax received for the kiosk is printed outside any call, on the control plane's word."""
    return command.name == "print" and command.call is None and command.sender == CONTROL_PLANE_USER


class CommandRouter:
    def __init__(self, send_answer: Reply, is_current_call: CallCheck) -> None:
        self._send_answer = send_answer
        self._is_current_call = is_current_call
        self._handlers: dict[str, Handler] = {}
        self._answers: OrderedDict[str, Answer | None] = OrderedDict()
        self._lock = threading.RLock()  # replies come from worker threads too

    def register(self, name: str, handler: Handler) -> None:
        if name in self._handlers:
            raise ValueError(f"a handler for {name!r} is already registered")
        self._handlers[name] = handler

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def remembers(self, command_id: str) -> bool:
        with self._lock:
            return command_id in self._answers

    def receive(self, body: bytes | str) -> Received:
        """Handle the body of a command MESSAGE; say which SIP status answers it."""
        try:
            command = decode_command(body)
        except MessageError as exc:
            if exc.command_id is None:
                log.warning("unreadable command refused: %s", exc.reason)
                return Received(400)  # no id: no answer message can name it
            self._final(exc.command_id, Answer(exc.command_id, Status.FAILED, exc.reason))
            return Received(200)
        with self._lock:
            repeated, earlier = command.id in self._answers, self._answers.get(command.id)
        if repeated:
            # Never run twice; say again how it ended, if it has.
            log.info("command %s repeated; not run again", command.id)
            if earlier is not None:
                self._send_answer(earlier)
            return Received(200, command)
        handler = self._handlers.get(command.name)
        if handler is None:
            reason = f"commande inconnue : {command.name}"
            self._final(command.id, Answer(command.id, Status.FAILED, reason))
        elif not (self._is_current_call(command.call) or _received_fax(command)):
            self._final(command.id, Answer(command.id, Status.FAILED, NOT_THIS_CALL))
        else:
            self._remember(command.id, None)
            try:
                handler(command, self._reply_for(command.id))
            except Exception:
                log.exception("handler of %s failed on %s", command.name, command.id)
                self._final(command.id, Answer(command.id, Status.FAILED, HANDLER_FAILED))
        return Received(200, command)

    def _reply_for(self, command_id: str) -> Reply:
        def reply(answer: Answer) -> None:
            if answer.id != command_id:
                raise ValueError(f"answer {answer.id!r} given to command {command_id!r}")
            if answer.status is Status.ACCEPTED:
                self._send_answer(answer)
            else:
                self._final(command_id, answer)

        return reply

    def _final(self, command_id: str, answer: Answer) -> None:
        with self._lock:
            if self._answers.get(command_id) is not None:
                log.error("second final answer to %s dropped: %s", command_id, answer)
                return
            self._remember(command_id, answer)
        self._send_answer(answer)

    def _remember(self, command_id: str, answer: Answer | None) -> None:
        with self._lock:
            self._answers[command_id] = answer
            self._answers.move_to_end(command_id)
            while len(self._answers) > REMEMBERED:
                self._answers.popitem(last=False)


def is_command(content_type: str | None) -> bool:
    return media_type(content_type) == COMMAND_TYPE
