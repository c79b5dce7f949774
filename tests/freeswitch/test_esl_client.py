"""The Event Socket client against a socket server speaking the ESL wire format."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pvp.freeswitch.esl import Backoff, ESLClient, ESLError, NotConnected
from pvp.freeswitch.eslframe import Event
from testkit.fake_esl import FakeSwitch
from testkit.waiting import eventually


@pytest.fixture
def switch() -> Iterator[FakeSwitch]:
    server = FakeSwitch()
    yield server
    server.close()


def make_client(switch: FakeSwitch, password: str = "ClueCon", **kw: object) -> ESLClient:
    return ESLClient(
        "127.0.0.1",
        switch.port,
        password,
        events=("CHANNEL_PARK", "CUSTOM sofia::register"),
        backoff=Backoff(0.05, 0.2),
        timeout=3,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(switch: FakeSwitch) -> Iterator[ESLClient]:
    esl = make_client(switch)
    esl.start()
    assert esl.wait_connected(5)
    yield esl
    esl.stop()


def test_given_the_right_password_when_connected_then_api_answers(
    switch: FakeSwitch, client: ESLClient
) -> None:
    assert client.api("status") == "reply to status\n"
    assert "event json BACKGROUND_JOB CHANNEL_PARK CUSTOM sofia::register" in switch.commands


def test_given_an_error_answer_when_api_is_called_then_it_raises(client: ESLClient) -> None:
    with pytest.raises(ESLError, match="no such command"):
        client.api("fail")


def test_given_a_wrong_password_when_starting_then_it_never_connects(switch: FakeSwitch) -> None:
    esl = make_client(switch, password="wrong")
    esl.start()
    try:
        assert not esl.wait_connected(0.5)
        assert switch.commands.count("auth wrong") >= 2  # it keeps trying, with a delay
        with pytest.raises(NotConnected):
            esl.api("status")
    finally:
        esl.stop()


def test_given_a_background_job_when_it_finishes_then_the_future_has_its_output(
    client: ESLClient,
) -> None:
    assert client.bgapi("originate x &park()").result(3) == "+OK originate x &park()\n"


def test_given_concurrent_api_calls_then_each_gets_its_own_reply(client: ESLClient) -> None:
    results: dict[int, str] = {}

    def call(n: int) -> None:
        results[n] = client.api(f"echo {n}")

    threads = [threading.Thread(target=call, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {n: f"reply to echo {n}\n" for n in range(20)}


def test_given_handlers_when_events_come_then_by_name_and_subclass_and_failures_are_contained(
    switch: FakeSwitch, client: ESLClient
) -> None:
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a bug in one handler")

    client.on("CHANNEL_PARK", broken)
    client.on("CHANNEL_PARK", lambda e: seen.append(f"park {e.uuid}"))
    client.on("CUSTOM sofia::register", lambda e: seen.append(f"reg {e.get('from-user')}"))
    client.on("*", lambda e: seen.append(f"any {e.name}"))
    switch.send_event({"Event-Name": "CHANNEL_PARK", "Unique-ID": "u1"})
    switch.send_event(
        {"Event-Name": "CUSTOM", "Event-Subclass": "sofia::register", "from-user": "anne"}
    )
    switch.send_event({"Event-Name": "CHANNEL_PARK", "Unique-ID": "u2"})
    assert eventually(lambda: len(seen) == 6)
    assert seen == [
        "park u1",
        "any CHANNEL_PARK",
        "reg anne",
        "any CUSTOM",
        "park u2",
        "any CHANNEL_PARK",
    ]


def test_given_a_handler_that_calls_api_then_it_gets_its_reply(
    switch: FakeSwitch, client: ESLClient
) -> None:
    replies: list[str] = []
    client.on("CHANNEL_PARK", lambda e: replies.append(client.api(f"uuid_dump {e.uuid}")))
    switch.send_event({"Event-Name": "CHANNEL_PARK", "Unique-ID": "u1"})
    assert eventually(lambda: replies == ["reply to uuid_dump u1\n"])


def test_given_the_switch_restarts_when_it_is_back_then_the_client_reconnects(
    switch: FakeSwitch, client: ESLClient
) -> None:
    connects: list[int] = []
    client.on_connect(lambda: connects.append(client.connections))
    switch.drop_clients()
    assert eventually(lambda: client.connections == 2 and client.connected)
    assert client.api("status") == "reply to status\n"
    assert eventually(lambda: connects == [2])


def test_given_a_command_in_flight_when_the_connection_drops_then_it_fails_at_once(
    switch: FakeSwitch, client: ESLClient
) -> None:
    switch.api_delay.clear()
    errors: list[Exception] = []

    def call() -> None:
        try:
            client.api("slow")
        except ESLError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    assert eventually(lambda: "api slow" in switch.commands)
    switch.drop_clients()
    switch.api_delay.set()
    thread.join(5)
    assert errors and isinstance(errors[0], NotConnected)


def test_a_command_with_a_newline_is_refused(client: ESLClient) -> None:
    with pytest.raises(ValueError):
        client.api("status\n\nbgapi evil")
