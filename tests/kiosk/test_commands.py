"""The command router: refusals with an answer and no side effect; one final answer each."""

from __future__ import annotations

import json
import threading
from typing import Any

from pvp.kiosk.commands import NOT_THIS_CALL, CommandRouter
from pvp.wire.messages import Answer, Command, Status


def command(**fields: Any) -> str:
    body = {"v": 1, "type": "command", "id": "c-1", "name": "text", "call": "call-1"}
    return json.dumps({**body, **fields})


def router() -> tuple[CommandRouter, list[Answer], list[Command]]:
    answers: list[Answer] = []
    ran: list[Command] = []
    r = CommandRouter(answers.append, lambda call: call == "call-1")

    def text(cmd: Command, reply: Any) -> None:
        ran.append(cmd)
        reply(Answer(cmd.id, Status.DONE))

    r.register("text", text)
    return r, answers, ran


def test_a_valid_command_runs_once_and_is_answered_once() -> None:
    r, answers, ran = router()
    assert r.receive(command(args={"text": "Bonjour"})).sip_status == 200
    assert r.receive(command(args={"text": "Bonjour"})).sip_status == 200  # retransmitted
    assert len(ran) == 1
    assert answers == [Answer("c-1", Status.DONE), Answer("c-1", Status.DONE)]


def test_refusals_change_nothing_and_say_why() -> None:
    r, answers, ran = router()
    assert r.receive(command(id="c-2", name="print")).sip_status == 200  # no handler here
    assert r.receive(command(id="c-3", name="dance")).sip_status == 200
    assert r.receive(command(id="c-4", call="call-0")).sip_status == 200
    assert r.receive(command(id="c-5", v=2)).sip_status == 200
    assert ran == []
    assert [(a.id, a.status, a.reason) for a in answers] == [
        ("c-2", Status.FAILED, "commande inconnue : print"),
        ("c-3", Status.FAILED, "commande inconnue : 'dance'"),
        ("c-4", Status.FAILED, NOT_THIS_CALL),
        ("c-5", Status.FAILED, "version de protocole non prise en charge : 2"),
    ]


def test_unreadable_bodies_get_400_and_no_answer() -> None:
    r, answers, _ = router()
    assert r.receive(b"{not json").sip_status == 400
    assert r.receive(json.dumps({"v": 1, "type": "command", "name": "text"})).sip_status == 400
    assert answers == []


def test_a_failing_handler_is_answered_failed() -> None:
    answers: list[Answer] = []
    r = CommandRouter(answers.append, lambda call: True)

    def boom(cmd: Command, reply: Any) -> None:
        raise RuntimeError("printer on fire")

    r.register("print", boom)
    r.receive(command(name="print"))
    assert answers[0].status is Status.FAILED


def test_accepted_then_done_from_a_worker_thread_and_no_second_final() -> None:
    answers: list[Answer] = []
    workers: list[threading.Thread] = []
    r = CommandRouter(answers.append, lambda call: True)

    def slow(cmd: Command, reply: Any) -> None:
        reply(Answer(cmd.id, Status.ACCEPTED))

        def work() -> None:
            reply(Answer(cmd.id, Status.DONE, details={"pages": 1}))
            reply(Answer(cmd.id, Status.FAILED, "trop tard"))  # dropped

        workers.append(threading.Thread(target=work))
        workers[-1].start()

    r.register("scan", slow)
    r.receive(command(name="scan"))
    workers[0].join(timeout=2)
    assert [a.status for a in answers] == [Status.ACCEPTED, Status.DONE]


def test_outside_a_call_only_the_control_planes_received_fax_print_runs() -> None:
    answers: list[Answer] = []
    ran: list[str] = []
    r = CommandRouter(answers.append, lambda call: False)  # no call in progress
    for name in ("print", "scan", "display"):
        r.register(
            name, lambda cmd, reply: (ran.append(cmd.id), reply(Answer(cmd.id, Status.DONE)))
        )
    r.receive(command(id="fax", name="print", call=None, **{"from": "pvp"}))
    r.receive(command(id="c-2", name="scan", call=None, **{"from": "pvp"}))
    r.receive(command(id="c-3", name="print", call=None, **{"from": "msa-43-c1"}))
    r.receive(command(id="c-4", name="display", call=None, **{"from": "pvp"}))
    assert ran == ["fax"]
    assert [(a.id, a.reason) for a in answers[1:]] == [
        (i, NOT_THIS_CALL) for i in ("c-2", "c-3", "c-4")
    ]
