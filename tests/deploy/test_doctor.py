"""`pvp doctor`: each check passing on a healthy deployment and failing on a broken one.

The switch's checks against a real FreeSWITCH are in tests/live/test_doctor_switch.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner

from pvp.cli import main
from pvp.common.serving import ThreadedServer
from pvp.config import Settings
from pvp.db import Database, alembic_config, make_engine
from pvp.deploy import doctor
from pvp.deploy.backup import head_revision
from pvp.freeswitch.certs import write_test_certs
from pvp.web.app import create_app
from testkit.fake_esl import FakeSwitch
from testkit.ports import free_port

# ---- database ---------------------------------------------------------------------------


def test_database_at_head_passes(settings: Settings, db: Database) -> None:
    found = doctor.check_database(settings)
    assert found.ok, found.english


def test_database_behind_the_code_says_to_back_up_and_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = make_engine(settings.resolved_database_url())
    command.upgrade(alembic_config(engine), "0005")
    engine.dispose()
    found = doctor.check_database(settings)
    assert not found.ok
    assert "révision 0005" in found.french and "pvp backup create" in found.french
    assert f"head is {head_revision(engine)}" in found.english


def test_database_unreachable_says_to_check_postgresql(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://pvp:secret@127.0.0.1:{free_port()}/pvp"
    found = doctor.check_database(Settings(data_dir=tmp_path, database_url=url))
    assert not found.ok and "PostgreSQL" in found.french
    assert "secret" not in found.english + found.french  # no password in the logs


# ---- disk -------------------------------------------------------------------------------


def test_disk_with_room_passes_and_a_full_one_says_to_free_space(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True)
    assert doctor.check_disk(settings, min_free=1).ok
    full = doctor.check_disk(settings, min_free=2**62)
    assert not full.ok and "libérez de la place" in full.french and "GiB free" in full.english


# ---- certificates -----------------------------------------------------------------------


@pytest.fixture
def certified(tmp_path: Path) -> Settings:
    """A site whose switch certificates (365 days, from its CA) were just installed."""
    write_test_certs(tmp_path / "certs", ["127.0.0.1"])
    return Settings(data_dir=tmp_path / "data", freeswitch_certs_dir=str(tmp_path / "certs"))


def test_fresh_certificates_pass(certified: Settings) -> None:
    found = doctor.check_certificates(certified)
    assert [f.check for f in found] == [
        "certificate agent.pem",
        "certificate wss.pem",
        "certificate cafile.pem",
    ]
    assert all(f.ok for f in found), found


def test_a_certificate_expiring_within_30_days_says_to_renew_and_reload(
    certified: Settings,
) -> None:
    in_340_days = datetime.now(UTC) + timedelta(days=340)
    agent = doctor.check_certificates(certified, now=in_340_days)[0]
    assert not agent.ok
    assert "expire dans 2" in agent.french and "pvp deploy reload-certs" in agent.french
    assert "expires in 2" in agent.english


def test_an_expired_or_missing_or_garbled_certificate_is_a_problem(
    certified: Settings, tmp_path: Path
) -> None:
    expired = doctor.check_certificates(certified, now=datetime.now(UTC) + timedelta(days=400))
    assert not expired[0].ok and "a expiré" in expired[0].french
    missing = doctor.check_certificates(Settings(data_dir=tmp_path / "none"))
    assert not missing[0].ok and "absent" in missing[0].french
    (tmp_path / "certs" / "agent.pem").write_text("not a certificate")
    garbled = doctor.check_certificates(certified)
    assert not garbled[0].ok and "illisible" in garbled[0].french


# ---- xml_curl ---------------------------------------------------------------------------


@pytest.fixture
def control_plane(settings: Settings, db: Database) -> Iterator[Settings]:
    """The control plane's HTTP side on a free port; the settings the switch was given."""
    server = ThreadedServer(create_app(settings, db), "127.0.0.1", 0).start()
    try:
        yield settings.model_copy(update={"http_port": server.port})
    finally:
        server.stop()


def test_xml_curl_answering_with_the_switch_credentials_passes(control_plane: Settings) -> None:
    found = doctor.check_xml_curl(control_plane)
    assert found.ok, found.english
    # Several control planes give several lines: each names its own.
    assert control_plane.base_url() in found.french


def test_xml_curl_refusing_the_switch_credentials_says_to_render_again(
    control_plane: Settings,
) -> None:
    wrong = control_plane.model_copy(update={"xml_curl_password": "not-the-one"})
    found = doctor.check_xml_curl(wrong)
    assert not found.ok and "pvp freeswitch render" in found.french and "401" in found.english


def test_xml_curl_with_no_control_plane_says_to_start_it(tmp_path: Path) -> None:
    found = doctor.check_xml_curl(Settings(data_dir=tmp_path, http_port=free_port()))
    assert not found.ok and "systemctl start pvp-control" in found.french


# ---- the switch, absent -----------------------------------------------------------------


def test_no_switch_says_to_start_it_and_leaves_the_clocks_uncompared(tmp_path: Path) -> None:
    switch, clock = doctor.check_switch(Settings(data_dir=tmp_path, esl_port=free_port()))
    assert not switch.ok and "systemctl start pvp-freeswitch" in switch.french
    assert not clock.ok and "non comparées" in clock.french


def test_a_switch_refusing_the_password_says_which_setting_to_check(tmp_path: Path) -> None:
    switch = FakeSwitch(password="not-the-sites")
    try:
        settings = Settings(data_dir=tmp_path, esl_port=switch.port, esl_password="ours")
        found, clock = doctor.check_switch(settings)
    finally:
        switch.server.close()
    assert not found.ok and "refuse la connexion de contrôle" in found.french
    assert "esl_password" in found.french and "password refused" in found.english
    assert "ours" not in found.english + found.french
    assert not clock.ok


# ---- the command ------------------------------------------------------------------------


def test_cli_tells_the_site_what_to_fix_in_french_logs_english_and_fails(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    env = {
        "PVP_DATA_DIR": str(settings.data_dir),
        "PVP_ESL_PORT": str(free_port()),
        "PVP_HTTP_PORT": str(free_port()),
    }
    result = CliRunner().invoke(main, ["doctor"], env=env)
    assert result.exit_code == 1
    assert "À FAIRE Le commutateur FreeSWITCH ne répond pas" in result.stdout
    assert "OK      Base de données à jour." in result.stdout
    assert "problème(s) à corriger" in result.stdout


def test_a_missing_sqlite_database_is_reported_not_created(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    found = doctor.check_database(settings)
    assert not found.ok and "n'existe pas" in found.french
    assert not (tmp_path / "data" / "pvp.sqlite3").exists()
