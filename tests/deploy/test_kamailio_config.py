"""The rendered Kamailio configuration: Kamailio's own checker accepts it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pvp.deploy.kamailio import KamailioSite, kamailio_db_url, render_kamailio


def _site(
    tmp_path: Path, url: str = "postgresql+psycopg://pvp:s3cret@db.example:5433/pvp"
) -> KamailioSite:
    pool = [("127.0.0.1", 5080), ("127.0.0.1", 5090)]
    return KamailioSite("127.0.0.1", 5099, "pvp.example", url, pool, tmp_path / "ctl")


def test_kamailio_checks_the_rendered_configuration(tmp_path: Path) -> None:
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(kamailio).exists():
        pytest.skip("kamailio not found (Debian's kamailio and kamailio-postgres-modules)")
    cfg = render_kamailio(_site(tmp_path), tmp_path)
    result = subprocess.run([kamailio, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    listed = (tmp_path / "dispatcher.list").read_text()
    assert listed == "1 sip:127.0.0.1:5080\n1 sip:127.0.0.1:5090\n"


def test_database_url_in_kamailio_form_and_sqlite_refused(tmp_path: Path) -> None:
    url = "postgresql+psycopg://pvp:s3cret@db.example:5433/pvp"
    assert kamailio_db_url(url) == "postgres://pvp:s3cret@db.example:5433/pvp"
    with pytest.raises(ValueError, match="PostgreSQL"):
        kamailio_db_url("sqlite:////var/lib/pvp/pvp.sqlite3")


def test_cli_renders_for_the_configured_database_and_refuses_sqlite(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pvp.cli import main

    args = ["deploy", "kamailio", "--out", str(tmp_path / "k"), "--switch", "10.0.0.1:5060"]
    pg = {"PVP_DATABASE_URL": "postgresql+psycopg://pvp@db:5432/pvp"}
    made = CliRunner().invoke(main, args, env={"PVP_DATA_DIR": str(tmp_path), **pg})
    assert made.exit_code == 0, made.output
    assert "postgres://pvp@db:5432/pvp" in (tmp_path / "k" / "kamailio.cfg").read_text()
    elsewhere = [*args[:3], str(tmp_path / "k2"), *args[4:]]
    refused = CliRunner().invoke(main, elsewhere, env={"PVP_DATA_DIR": str(tmp_path / "lite")})
    assert refused.exit_code == 2 and "PostgreSQL" in refused.output
    assert not (tmp_path / "k2").exists()
    bad = CliRunner().invoke(main, [*args[:4], "--switch", "nowhere"], env=pg)
    assert bad.exit_code == 2 and "HOST:PORT" in bad.output


def test_devices_identity_is_kamailios_word_and_every_switch_learns_registrations(
    tmp_path: Path,
) -> None:
    text = render_kamailio(_site(tmp_path), tmp_path).read_text()
    route = text[text.index("request_route") :]
    # A device's own identity header is dropped before anything else, then asserted after
    # its digest check, for the authenticated user only.
    assert route.index('remove_hf("X-PVP-Identity")') < route.index("auth_check")
    assert 'append_hf("X-PVP-Identity: $au@pvp.example\\r\\n")' in route
    register = route[route.index('is_method("REGISTER")') :]
    register = register[: register.index("exit;\n    }")]
    assert "add_path()" in register and "t_replicate()" in register
    assert '$ru = "sip:127.0.0.1:5080"' in register
    assert 'append_branch("sip:127.0.0.1:5090")' in register
