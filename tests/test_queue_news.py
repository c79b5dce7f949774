"""The queue news is one contract: what the dispatcher encodes is what the kiosk decodes."""

from __future__ import annotations

import pytest

from pvp.wire import queue_news
from pvp.wire.chat import ChatError, chat_command
from pvp.wire.queue_news import Connected, NewsError, Position, WaitEnded

NEWS = [
    Position("u1", 2, 420),
    Position("u1", 1, None),
    WaitEnded("u1", "Aucun conseiller n'est disponible | réessayez", "no_counsellor", "closed"),
    Connected("u1", "msa-43-c1"),
]


@pytest.mark.parametrize("news", NEWS)
def test_what_the_dispatcher_encodes_the_kiosk_decodes(news: queue_news.News) -> None:
    body = queue_news.encode(news)
    assert "|" not in body and "\n" not in body
    assert queue_news.decode(body.encode()) == news


@pytest.mark.parametrize(
    "body",
    [b"[]", b"not json", b'{"type":"queue","position":"2"}', b'{"type":"queue","position":true}'],
)
def test_a_body_that_is_no_queue_news_is_refused(body: bytes) -> None:
    with pytest.raises(NewsError):
        queue_news.decode(body)


def test_an_unknown_kind_of_news_is_refused_by_name() -> None:
    with pytest.raises(NewsError, match="'queue_moved'"):
        queue_news.decode(b'{"type":"queue_moved","call":"u1"}')


def test_the_chat_command_names_sender_kiosk_and_type() -> None:
    command = chat_command("kiosk-vorey-1", "{}", "application/json", "pvp.test")
    assert command == "chat sip|pvp@pvp.test|kiosk-vorey-1@pvp.test|{}|application/json"


@pytest.mark.parametrize("body", ['{"a":"x|y"}', '{"a":\n1}'])
def test_the_chat_command_refuses_what_chat_would_cut(body: str) -> None:
    with pytest.raises(ChatError):
        chat_command("kiosk-vorey-1", body, "application/json", "pvp.test")
