"""The ``pvp`` command as an operator types it (a real process for the entry point)."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from pvp.cli import main
from pvp.config import Settings
from pvp.db import Database
from pvp.model import AuditEntry


@pytest.fixture
def pvp(db: Database, settings: Settings):
    env = {"PVP_DATA_DIR": str(settings.data_dir)}

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    return run


def test_route_prints_one_json_object(pvp) -> None:
    out = pvp("route", "--kiosk", "kiosk-vorey-1", "--service", "anpe", "--at", "2006-11-09T12:30")
    assert out.exit_code == 0
    decision = json.loads(out.output)
    assert set(decision) >= {"decision", "queue", "counsellor", "next_opening", "reason"}
    assert decision["decision"] == "closed"
    assert decision["next_opening"] == "2006-11-15T09:00:00+01:00"


def test_route_without_at_answers_for_now(pvp, settings: Settings) -> None:
    # "Now" is the control plane's clock: set to a known instant, as the live tests do.
    env = {"PVP_DATA_DIR": str(settings.data_dir), "PVP_FAKE_NOW": "2006-11-09T12:30"}
    now = CliRunner().invoke(
        main, ["route", "--kiosk", "kiosk-vorey-1", "--service", "anpe"], env=env
    )
    assert now.exit_code == 0, now.output
    at = pvp("route", "--kiosk", "kiosk-vorey-1", "--service", "anpe", "--at", "2006-11-09T12:30")
    assert json.loads(now.output) == json.loads(at.output)
    assert json.loads(now.output)["next_opening"] == "2006-11-15T09:00:00+01:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--kiosk", "kiosk-x-1", "--service", "anpe", "--at", "2006-11-08T10:00"],
            "unknown kiosk",
        ),
        (
            ["--kiosk", "kiosk-vorey-1", "--service", "pole", "--at", "2006-11-08T10:00"],
            "unknown service",
        ),
        (["--kiosk", "kiosk-vorey-1", "--service", "anpe", "--at", "mercredi"], "malformed"),
    ],
)
def test_route_refuses_with_exit_status_2(pvp, args: list[str], message: str) -> None:
    out = pvp("route", *args)
    assert out.exit_code == 2
    assert message in out.output


def test_kiosks_and_counsellors_json(pvp) -> None:
    kiosks = json.loads(pvp("kiosks", "--json").output)
    assert {"id", "site", "commune", "community", "department", "services"} <= set(kiosks[0])
    assert len(kiosks) == 20
    counsellors = json.loads(pvp("counsellors", "--json").output)
    c1 = next(c for c in counsellors if c["id"] == "anpe-le-puy-c1")
    assert c1["agency"] == "anpe-le-puy" and c1["service"] == "anpe"
    assert c1["queues"] == [{"queue": "anpe-le-puy", "priority": 1}]


def test_appointment_add_route_cancel(pvp) -> None:
    add = pvp(
        "appointment",
        "add",
        "--site",
        "vorey",
        "--service",
        "anpe",
        "--counsellor",
        "anpe-le-puy-c2",
        "--at",
        "2006-11-08T10:00",
        "--minutes",
        "45",
    )
    assert add.exit_code == 0, add.output
    ident = int(add.output)
    routed = json.loads(
        pvp(
            "route", "--kiosk", "kiosk-vorey-1", "--service", "anpe", "--at", "2006-11-08T10:10"
        ).output
    )
    assert routed["decision"] == "appointment"
    assert (routed["counsellor"], routed["appointment"]) == ("anpe-le-puy-c2", ident)
    clash = pvp(
        "appointment",
        "add",
        "--site",
        "vorey",
        "--service",
        "anpe",
        "--counsellor",
        "anpe-le-puy-c1",
        "--at",
        "2006-11-08T10:30",
    )
    assert clash.exit_code == 2 and "déjà réservée" in clash.output
    assert pvp("appointment", "cancel", str(ident)).exit_code == 0
    again = pvp("appointment", "cancel", str(ident))
    assert again.exit_code == 2 and "déjà annulé" in again.output
    assert pvp("appointment", "cancel", "99999").exit_code == 2


def _audit(db: Database, *entities: str) -> list[tuple[str, str, str, str, object]]:
    """(who, action, table, row, status after) of the audit log's entries on ``entities``."""
    with db.sessions() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity.in_(entities)).order_by(AuditEntry.id)
        )
        return [
            (
                e.actor,
                e.action,
                e.entity,
                e.entity_id,
                (e.after or {}).get("status", (e.after or {}).get("console_status")),
            )
            for e in entries
        ]


def test_appointment_and_status_changes_on_the_command_line_are_audited(pvp, db: Database):
    booking = ["--site", "vorey", "--service", "anpe", "--at", "2006-11-08T10:00"]
    add = pvp("appointment", "add", *booking, "--counsellor", "anpe-le-puy-c2")
    assert add.exit_code == 0, add.output
    ident = add.output.strip()
    refused = pvp("appointment", "add", *booking, "--counsellor", "anpe-le-puy-c1")
    assert refused.exit_code == 2  # the site's kiosk is taken: nothing written, nothing audited
    assert pvp("appointment", "cancel", ident).exit_code == 0
    status = pvp("counsellor", "status", "msa-43-c1", "paused")
    assert status.exit_code == 0, status.output
    who = f"cli:{getpass.getuser()}"
    assert _audit(db, "appointments", "counsellor_states") == [
        (who, "book", "appointments", ident, "booked"),
        (who, "cancel", "appointments", ident, "cancelled"),
        (who, "status", "counsellor_states", "msa-43-c1", "paused"),
    ]


def test_a_new_sip_secret_from_the_command_line_is_audited(pvp, db: Database) -> None:
    out = pvp("provision", "credentials", "kiosk-vorey-1")
    assert out.exit_code == 0, out.output
    secret = json.loads(out.output)["password"]
    with db.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "new_secret")).one()
    assert (entry.actor, entry.entity, entry.entity_id) == (
        f"cli:{getpass.getuser()}",
        "kiosks",
        "kiosk-vorey-1",
    )
    assert secret not in json.dumps([entry.before, entry.after])  # only that one was issued


def test_appointment_outside_windows_is_refused(pvp) -> None:
    out = pvp(
        "appointment",
        "add",
        "--site",
        "vorey",
        "--service",
        "anpe",
        "--counsellor",
        "anpe-le-puy-c1",
        "--at",
        "2006-11-09T14:00",
    )
    assert out.exit_code == 2
    assert "hors des plages" in out.output and "prochaine plage : 15/11/2006 09:00" in out.output
    # The French reason for the operator, then the stable code a script can match.
    assert out.output.startswith("pvp: rendez-vous refusé : ")
    assert out.output.rstrip().endswith("[booking_refused]")


def test_the_installed_entry_point_imports_and_routes(tmp_path: Path) -> None:
    env = {**os.environ, "PVP_DATA_DIR": str(tmp_path)}
    plan = Path(__file__).resolve().parent.parent / "provisioning" / "auvergne-2006.yaml"
    pvp = [sys.executable, "-m", "pvp.cli"]
    first = subprocess.run(
        [*pvp, "provision", "import", str(plan)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "20 kiosks created" in first.stdout
    second = subprocess.run(
        [*pvp, "provision", "import", str(plan)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "nothing changed" in second.stdout
    routed = subprocess.run(
        [*pvp, "route", "--kiosk", "kiosk-vorey-1", "--service", "msa", "--at", "2006-11-24T09:30"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(routed.stdout)["decision"] == "walk_in"


def test_bundle_holds_a_working_new_secret(pvp, db: Database, settings: Settings, tmp_path: Path):
    from pvp.model import Kiosk
    from pvp.provisioning import a1_hash

    made = pvp("freeswitch", "demo-certs")
    assert made.exit_code == 0, made.output
    demo_ca = settings.data_dir / "freeswitch" / "certs" / "cafile.pem"
    assert str(demo_ca) in made.output
    out = tmp_path / "bundle"
    done = pvp("provision", "bundle", "kiosk-vorey-1", "--out", str(out))
    assert done.exit_code == 0, done.output
    bundle = json.loads((out / "kiosk.json").read_text())
    # The kiosk trusts the switch through the demo CA `pvp serve` gives FreeSWITCH.
    assert bundle["ca_file"] == "ca.pem"
    assert (out / "ca.pem").read_bytes() == demo_ca.read_bytes()
    assert (out / "kiosk.json").stat().st_mode & 0o077 == 0
    assert bundle["kiosk"] == "kiosk-vorey-1" and bundle["site"] == "vorey"
    assert [b["service"] for b in bundle["buttons"]] == ["anpe", "urssaf", "cram", "msa"]
    assert bundle["sip"]["transport"] == "tls"
    # The kiosk agent reads its audio devices from the bundle (pvp/kiosk/agent.py).
    assert bundle["sip"]["wss_port"] == 7443
    assert bundle["speaker_audio"] == {"input": "", "output": ""}
    assert bundle["handset_audio"] == {"input": "handset", "output": "handset"}
    with db.sessions() as session:
        stored = session.get(Kiosk, "kiosk-vorey-1").a1_hash
    assert stored == a1_hash("kiosk-vorey-1", settings.sip_domain, bundle["sip"]["password"])
    second = pvp("provision", "bundle", "kiosk-vorey-1", "--out", str(out))
    assert second.exit_code == 0
    assert (
        json.loads((out / "kiosk.json").read_text())["sip"]["password"] != bundle["sip"]["password"]
    )
    assert pvp("provision", "bundle", "kiosk-nowhere-1", "--out", str(out)).exit_code == 2
    with db.sessions() as session:  # each bundle's new secret is in the audit log
        issued = session.scalars(select(AuditEntry).where(AuditEntry.action == "new_secret"))
        assert [(e.actor, e.entity_id) for e in issued] == [
            (f"cli:{getpass.getuser()}", "kiosk-vorey-1")
        ] * 2


@pytest.mark.parametrize("configured", [None, "missing.pem"])
def test_bundle_without_a_ca_is_refused_and_nothing_changes(
    pvp, db: Database, settings: Settings, tmp_path: Path, configured: str | None
) -> None:
    from pvp.model import Kiosk

    with db.sessions() as session:
        before = session.get(Kiosk, "kiosk-vorey-1").a1_hash
    env = {"PVP_DATA_DIR": str(settings.data_dir)}
    if configured:
        env["PVP_CA_FILE"] = str(tmp_path / configured)
    out = tmp_path / "bundle"
    refused = CliRunner().invoke(
        main, ["provision", "bundle", "kiosk-vorey-1", "--out", str(out)], env=env
    )

    assert refused.exit_code == 2
    expected = "introuvable" if configured else "pvp freeswitch demo-certs"
    assert expected in refused.output and "CA" in refused.output
    assert not out.exists() and list(tmp_path.glob(".bundle-*")) == []
    with db.sessions() as session:
        assert session.get(Kiosk, "kiosk-vorey-1").a1_hash == before, "secret unchanged"
