"""The kiosk browser's set-up (`pvp kiosk-browser`), proven with Debian's Chromium.

Chromium started with the kiosk user's home trusts the switch's certificate because the
bundle's CA is in that home's NSS database; the same Chromium refuses a switch whose
certificate comes from another CA (an impostor), and a home without the set-up refuses
even the real one. No certificate check is switched off anywhere.
"""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pvp.cli import main
from pvp.kiosk.browser import policies
from testkit.certs import Identity, Pki

pytestmark = pytest.mark.skipif(shutil.which("certutil") is None, reason="no certutil")


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<!doctype html><title>switch</title><p>switch reached</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def tls_server(identity: Identity) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(identity.cert, identity.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def switch(pki: Pki) -> Iterator[str]:
    yield from tls_server(pki.switch)


@pytest.fixture
def impostor(pki: Pki) -> Iterator[str]:
    yield from tls_server(pki.rogue)


CONTENTS = {  # a kiosk.json as `pvp provision bundle` writes it
    "kiosk": "kiosk-vorey-1",
    "sip": {"domain": "pvp.test", "user": "kiosk-vorey-1", "password": "s", "registrar_host": "fs"},
    "control_plane": {"url": "https://pvp.test"},
    "buttons": [{"service": "msa", "key": "KEY_F1"}],
    "ca_file": "ca.pem",
}


def kiosk_bundle(tmp_path: Path, pki: Pki) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copy(pki.ca, bundle / "ca.pem")
    (bundle / "kiosk.json").write_text(json.dumps(CONTENTS))
    return bundle


def set_up(bundle: Path, home: Path, policy_dir: Path, *more: str) -> Any:
    """`pvp kiosk-browser`, as the kiosk's installer runs it."""
    args = ["--bundle", str(bundle), "--home", str(home), "--policies-dir", str(policy_dir)]
    return CliRunner().invoke(main, ["kiosk-browser", *args, *more])


def reaches(chromium: Any, home: Path, url: str) -> str:
    """What the kiosk's Chromium, run as ``home``'s user, gets from ``url``."""
    from testkit.chromium_flags import CHROMIUM_ARGS

    browser = chromium.browser_type.launch(
        executable_path=shutil.which("chromium") or "/usr/bin/chromium",
        args=CHROMIUM_ARGS,
        env={"HOME": str(home)},
    )
    try:
        page = browser.new_page()
        try:
            page.goto(url, timeout=10000)
        except Exception as exc:
            return str(exc).splitlines()[0]
        return str(page.inner_text("p"))
    finally:
        browser.close()


@pytest.mark.browser
def test_the_set_up_trusts_the_bundle_ca_and_the_impostor_is_refused(
    chromium: Any, pki: Pki, tmp_path: Path, switch: str, impostor: str
) -> None:
    bundle, home, policy_dir = (
        kiosk_bundle(tmp_path, pki),
        tmp_path / "kiosk",
        tmp_path / "policies",
    )
    done = set_up(bundle, home, policy_dir, "--screen-port", "8480")
    assert done.exit_code == 0, done.output
    assert reaches(chromium, home, switch) == "switch reached"
    assert "ERR_CERT_AUTHORITY_INVALID" in reaches(chromium, home, impostor)
    # A kiosk user without the set-up does not trust the real switch either.
    (tmp_path / "bare").mkdir()
    assert "ERR_CERT_AUTHORITY_INVALID" in reaches(chromium, tmp_path / "bare", switch)
    # Run again (a re-issued bundle): still one CA, still trusted.
    again = set_up(bundle, home, policy_dir)
    assert again.exit_code == 0, again.output
    assert reaches(chromium, home, switch) == "switch reached"
    written = json.loads((policy_dir / "pvp-kiosk.json").read_text())
    assert written == policies("http://127.0.0.1:8480")
    assert (
        written["VideoCaptureAllowedUrls"]
        == written["AudioCaptureAllowedUrls"]
        == ["http://127.0.0.1:8480"]
    )


def test_a_bundle_without_a_ca_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "kiosk.json").write_text(json.dumps({**CONTENTS, "ca_file": None}))
    done = set_up(bundle, tmp_path / "kiosk", tmp_path / "p")
    assert done.exit_code != 0 and "names no CA" in done.output
    assert not (tmp_path / "kiosk").exists() and not (tmp_path / "p").exists()
