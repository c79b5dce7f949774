"""The kiosk for the live tests and benchmarks: the agent run from a bundle for the live
switch, on a loop thread, its page (the video phone) in Debian's Chromium with fake devices,
trusting the switch's CA through the NSS database ``pvp kiosk-browser``'s set-up writes."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pvp.kiosk.agent import AgentConfig, KioskAgent
from pvp.kiosk.heartbeat import Probes
from pvp.kiosk.screen import View
from pvp.wire.messages import kiosk_key
from testkit import webrtc
from testkit.calls import eventually
from testkit.live_switch import Switch
from testkit.loop import LoopThread

KIOSK = "kiosk-vorey-1"
PARIS = ZoneInfo("Europe/Paris")
PERMANENCE = "2006-11-24T10:00"  # Vorey, the 4th Friday: MSA walk-in 09:00-12:00
BUNDLE_JS = Path(__file__).resolve().parents[1] / "pvp/kiosk/screen/static/build/kiosk-phone.js"
# Chromium's fake devices are named "Fake Default Audio Input", "Fake Audio Input 1", ...
HANDSET_AUDIO = {"input": "Fake Audio Input 1", "output": "Fake Audio Output 1"}


def kiosk_config(sw: Any, directory: Path, knows_availability: bool = True) -> AgentConfig:
    """A bundle as `pvp provision bundle` writes it, for this switch, with test devices.
    Without ``knows_availability`` the control plane is out of reach: the idle buttons know
    nothing, so every press goes to the switch, which decides."""
    settings = sw.settings
    bundle_dir = directory / "bundle"
    bundle_dir.mkdir(parents=True)
    shutil.copy(sw.ca, bundle_dir / "ca.pem")
    bundle = {
        "kiosk": KIOSK,
        "site": "vorey",
        "commune": "Vorey",
        "sip": {
            "domain": settings.sip_domain,
            "user": KIOSK,
            "password": sw.passwords[KIOSK],
            "registrar_host": settings.sip_host,
            "registrar_port": settings.sip_tls_port,
            "transport": "tls",
            "wss_port": settings.sip_wss_port,
        },
        "control_plane": {
            "url": f"http://{settings.http_host}:{settings.http_port}"
            if knows_availability
            else "http://127.0.0.1:9"
        },
        "ca_file": "ca.pem",
        # The key the control plane seals this kiosk's commands with (pvp/messages.py).
        "command_key": kiosk_key(settings.secret("kiosk_command_key"), KIOSK),
        "buttons": [{"service": "msa", "key": "KEY_F1", "label": "MSA"}],
        "hangup_key": "KEY_ESC",
        "hook_key": "KEY_PHONE",
        "site_agent_phone": "04 71 00 00 00",
        "speaker_audio": {"input": "", "output": ""},
        "handset_audio": HANDSET_AUDIO,
    }
    (bundle_dir / "kiosk.json").write_text(json.dumps(bundle))
    config = AgentConfig.from_bundle(bundle_dir, directory / "state")
    return replace(
        config,
        screen_port=0,
        probes=Probes(lambda: None, lambda: None, lambda: False, directory),
        heartbeat_period=3600,
    )


# -- the kiosk: agent on a loop thread, its page in Chromium on the main thread -----------

# Reads the page's own peer connection: what it decoded of the far end, what it sends.
PAGE_STATS = """async () => {
  const phone = window.pvpPhone;
  const remote = document.getElementById("remote");
  const out = {width: remote.videoWidth, height: remote.videoHeight, frames: 0, energy: 0,
               codecs: [], sink: remote.sinkId, mic: null, processing: null};
  if (!phone.session) return out;
  const pc = phone.session.connection;
  const stats = await pc.getStats();
  const codecs = {};
  stats.forEach((r) => { if (r.type === "codec") codecs[r.id] = r.mimeType; });
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") out.frames = r.framesDecoded || 0;
    if (r.type === "inbound-rtp" && r.kind === "audio") out.energy = r.totalAudioEnergy || 0;
    if (r.type === "inbound-rtp" || r.type === "outbound-rtp") out.codecs.push(codecs[r.codecId]);
  });
  const sender = pc.getSenders().find((s) => s.track && s.track.kind === "audio");
  if (sender) {
    out.mic = sender.track.label;
    const st = sender.track.getSettings();
    out.processing = [st.echoCancellation, st.noiseSuppression, st.autoGainControl];
  }
  out.dtls = pc.getSenders()[0].transport ? pc.getSenders()[0].transport.state : null;
  return out;
}"""

# Whether the remote picture shows the far camera's colour bars (not park's black).
PAGE_SEES_BARS = """() => {
  const v = document.getElementById("remote");
  if (!v.videoWidth) return false;
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0);
  const y = Math.floor(c.height / 2);
  const at = (x) => g.getImageData(Math.floor(x), y, 1, 1).data;
  const [r, gr, b] = [at(c.width / 7), at(c.width / 2), at(c.width * 6 / 7)];
  return r[0] > 180 && gr[1] > 180 && b[2] > 180;
}"""


@dataclass
class Kiosk:
    agent: KioskAgent
    page: Any
    loop: LoopThread

    def act(self, action: Any) -> None:
        self.agent.feed_action(action)

    def view(self, view: View, timeout: float = 10.0) -> dict[str, Any]:
        assert eventually(lambda: self.agent.screen.current().view is view, timeout), (
            f"the screen shows {self.agent.screen.current()} instead of {view}"
        )
        return dict(self.agent.screen.current().data)

    def stats(self) -> dict[str, Any]:
        return dict(self.page.evaluate(PAGE_STATS))


@contextlib.contextmanager
def kiosk(
    sw: Switch,
    tmp_path: Path,
    chromium: Any,
    media: Path,
    trusted_ca: Path | None = None,
    knows_availability: bool = True,
) -> Iterator[Kiosk]:
    """The kiosk as its set-up leaves it: Chromium's NSS database trusts ``trusted_ca``
    (the bundle's CA unless a test says otherwise), the agent runs, the page is open."""
    if not BUNDLE_JS.exists():
        pytest.skip("the page's bundle is not built (bash scripts/setup.sh)")
    home = tmp_path / "kiosk-home"
    browser = webrtc.launch(chromium.browser_type, home, trusted_ca or sw.ca, media)
    loop = LoopThread()
    # The kiosk's clock is the control plane's travelled one: its idle buttons judge the
    # availability the control plane sends at that time.
    agent = KioskAgent(
        kiosk_config(sw, tmp_path, knows_availability),
        clock=lambda: sw.clock.now().astimezone(PARIS),
    )
    loop.call(agent.start())
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1024})
        page.goto(f"http://127.0.0.1:{agent.port}/")
        assert eventually(lambda: agent.phone.page_connected, 10), "the page takes no command"
        assert agent.messaging is not None
        loop.call(agent.messaging.wait_registered(10))
        yield Kiosk(agent, page, loop)
    finally:
        loop.call(agent.stop())
        browser.close()
        loop.close()
