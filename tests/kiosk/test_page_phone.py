"""The kiosk page's real phone (the bundled JsSIP code in Chromium) wired to the real agent.

No FreeSWITCH here: the page's WebSocket to the switch cannot open, which is exactly the
case of a press right after a switch restart that did not come back. The page must say so
(the agent shows "L'appel n'a pas pu aboutir") instead of leaving the citizen on "Appel en
cours". The call itself goes through FreeSWITCH in tests/live/test_kiosk_page.py.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pvp.kiosk.agent import KioskAgent
from pvp.kiosk.screen import View
from testkit.certs import Pki
from testkit.loop import LoopThread
from testkit.ports import free_port
from testkit.sip_switch import running_switch

from .test_agent_loopback import DOMAIN, KIOSK, SECRET, agent_config

BUNDLE_JS = Path(__file__).resolve().parents[2] / "pvp/kiosk/screen/static/build/kiosk-phone.js"
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not BUNDLE_JS.exists(), reason="the page's bundle is not built (bash scripts/setup.sh)"
    ),
]


def media_browser(chromium: Any) -> Any:
    from testkit.chromium_flags import CHROMIUM_ARGS

    return chromium.browser_type.launch(
        executable_path=shutil.which("chromium") or "/usr/bin/chromium",
        args=[*CHROMIUM_ARGS, *MEDIA_ARGS],
    )


@contextlib.contextmanager
def agent_with_page(
    chromium: Any, pki: Pki, tmp_path: Path, wss_url: str
) -> Iterator[tuple[KioskAgent, Any, Any]]:
    """The agent (and its switch stand-in) on a loop thread; its page in Chromium."""
    loop = LoopThread()
    switch_cm = running_switch(DOMAIN, {KIOSK: SECRET}, pki.switch)
    browser = media_browser(chromium)
    try:
        switch = loop.call(switch_cm.__aenter__())
        config = replace(agent_config(tmp_path, pki, switch.port), wss_url=wss_url)
        agent = KioskAgent(config)
        loop.call(agent.start())
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{agent.port}/")
            wait_for(lambda: agent.phone.page_connected, "the page takes the phone commands")
            yield agent, browser, page
        finally:
            loop.call(agent.stop())
            loop.call(switch_cm.__aexit__(None, None, None))
    finally:
        browser.close()
        loop.close()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        time.sleep(0.05)


def test_a_press_the_page_cannot_place_is_told_and_no_other_page_gets_the_token(
    chromium: Any, pki: Pki, tmp_path: Path
) -> None:
    # A switch address where nothing answers: the page's WebSocket never opens.
    unreachable = f"wss://127.0.0.1:{free_port()}"
    with agent_with_page(chromium, pki, tmp_path, unreachable) as (agent, browser, page):
        # Another page of the browser (another origin) cannot read the kiosk page's token.
        other = browser.new_page()
        other.goto("about:blank")
        stolen = other.evaluate(
            """async (url) => {
                try { return await (await fetch(url)).text(); }
                catch (e) { return "refused: " + e.message; }
            }""",
            f"http://127.0.0.1:{agent.port}/",
        )
        assert stolen.startswith("refused"), "another page read the kiosk page"

        page.click("button[data-service='msa']")  # the on-screen button, as a touch kiosk
        wait_for(lambda: agent.screen.current().view is View.CALLING, "calling")
        assert page.evaluate("document.body.classList.contains('in-call')")
        # The page waits for the switch a few seconds, then says it could not call.
        wait_for(lambda: agent.screen.current().view is View.CLOSED, "told", timeout=15)
        assert agent.screen.current().data["title"] == "L'appel n'a pas pu aboutir"
        page.wait_for_selector("section[data-view='closed']")
        assert "Merci de réessayer" in page.inner_text("main")
        assert not page.evaluate("document.body.classList.contains('in-call')")
