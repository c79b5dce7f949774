"""The deployment's switch-side checks on a real FreeSWITCH: `pvp doctor` and the TLS
certificate renewal (`pvp deploy reload-certs`) that keeps registrations."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.deploy import doctor
from pvp.freeswitch.certs import write_test_certs
from testkit.calls import eventually, registered
from testkit.live_switch import Switch
from testkit.ports import free_port

pytestmark = pytest.mark.live


def _site(sw: Switch) -> Settings:
    """The switch's settings as a site's /etc/pvp/pvp.toml would give them."""
    return sw.settings.model_copy(update={"freeswitch_certs_dir": str(sw.workdir / "certs")})


def _env(settings: Settings) -> dict[str, str]:
    return {
        "PVP_DATA_DIR": str(settings.data_dir),
        "PVP_ESL_PORT": str(settings.esl_port),
        "PVP_HTTP_PORT": str(settings.http_port),
        "PVP_FREESWITCH_CERTS_DIR": str(settings.freeswitch_certs_dir),
    }


def test_doctor_on_a_healthy_deployment_finds_nothing_to_fix(fresh: Switch) -> None:
    result = CliRunner().invoke(main, ["doctor"], env=_env(_site(fresh)))
    assert result.exit_code == 0, result.stdout
    assert "Commutateur FreeSWITCH joignable." in result.stdout
    assert "Horloges synchronisées." in result.stdout
    plane = fresh.settings.base_url()
    assert f"Le plan de contrôle {plane} répond au commutateur." in result.stdout
    assert "Tout va bien." in result.stdout


def test_doctor_with_a_wrong_event_socket_password_says_which_setting(fresh: Switch) -> None:
    wrong = _site(fresh).model_copy(update={"esl_password": "pas-le-bon"})
    switch, clock = doctor.check_switch(wrong)
    assert not switch.ok and "esl_password" in switch.french and "refused" in switch.english
    assert not clock.ok


def test_doctor_sees_a_clock_ten_seconds_off_the_switch(fresh: Switch) -> None:
    switch, clock = doctor.check_switch(_site(fresh), now=lambda: time.time() + 10)
    assert switch.ok
    assert not clock.ok and "NTP" in clock.french and "clock skew" in clock.english
    assert doctor.check_switch(_site(fresh))[1].ok


def _served_certificate(settings: Settings) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection((settings.sip_host, settings.sip_tls_port), 5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _options(tls: ssl.SSLSocket, settings: Settings, n: int) -> str:
    """An OPTIONS over an existing TLS connection; the status line of the answer."""
    port = tls.getsockname()[1]
    request = (
        f"OPTIONS sip:{settings.sip_host}:{settings.sip_tls_port};transport=tls SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.1:{port};branch=z9hG4bK-renew-{n};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:doctor@{settings.sip_domain}>;tag=renew{n}\r\n"
        f"To: <sip:{settings.sip_host}>\r\n"
        f"Call-ID: renew-{n}-{port}@127.0.0.1\r\n"
        f"CSeq: {n} OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    )
    tls.sendall(request.encode())
    tls.settimeout(5)
    return tls.recv(65536).decode(errors="replace").split("\r\n", 1)[0]


def _registered(sw: Switch, user: str) -> bool:
    """The profile's own registration table (``show registrations`` reads a lagging copy)."""
    return f"{user}@" in sw.esl.api("sofia status profile pvp reg")


def test_renewed_certificates_are_served_without_dropping_tls_registrations(
    make_switch: Callable[[Callable[[Database], None] | None], Switch],
) -> None:
    sw = make_switch(None)
    settings = _site(sw)
    old = _served_certificate(settings)
    kiosk = registered(sw.agent("kiosk-vorey-1", "tls"))
    # A connection held open across the renewal, as a registered kiosk's is.
    context = ssl.create_default_context(cafile=str(sw.ca))
    context.check_hostname = False
    held = context.wrap_socket(
        socket.create_connection((settings.sip_host, settings.sip_tls_port), 5)
    )
    assert _options(held, settings, 1).startswith("SIP/2.0 ")
    assert eventually(lambda: _registered(sw, "kiosk-vorey-1"))

    # The renewal: the site's CA (or certbot's hook) puts new files in place...
    new_ca = write_test_certs(Path(settings.freeswitch_certs_dir), [settings.sip_host])
    result = CliRunner().invoke(main, ["deploy", "reload-certs"], env=_env(settings))
    assert result.exit_code == 0, result.output

    # ...new connections get the new certificate...
    assert eventually(lambda: _served_certificate(settings).serial_number != old.serial_number)
    new = x509.load_pem_x509_certificate(new_ca.read_bytes())
    assert _served_certificate(settings).issuer == new.subject
    # ...and the connections and registrations made before are still there.
    assert _options(held, settings, 2).startswith("SIP/2.0 ")
    time.sleep(1)
    assert _registered(sw, "kiosk-vorey-1")
    with pytest.raises(TimeoutError):
        kiosk.wait_event("REGISTER_FAIL", "UNREGISTERING", timeout=1)
    held.close()


def test_reload_certs_without_a_switch_says_so(tmp_path: Path) -> None:
    port = free_port()
    result = CliRunner().invoke(
        main,
        ["deploy", "reload-certs"],
        env={"PVP_DATA_DIR": str(tmp_path), "PVP_ESL_PORT": str(port)},
    )
    assert result.exit_code == 2 and "FreeSWITCH event socket" in result.output
