"""Importing a plan: idempotent, validated first, all-or-nothing, credentials never in clear."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import inspect, select

from pvp.cli import main
from pvp.db import Database
from pvp.model import Base, Counsellor, Kiosk
from pvp.plan import PlanError, load_plan, parse_plan
from pvp.provisioning import a1_hash, apply_plan, rotate_secret

PLAN_2006 = Path(__file__).resolve().parent.parent / "provisioning" / "auvergne-2006.yaml"

RAW = yaml.safe_load(PLAN_2006.read_text())


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what "nothing changed" is checked against."""
    out = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if inspect(conn).has_table(table.name):
                out[table.name] = sorted(map(tuple, conn.execute(select(table))), key=repr)
    return out


def test_the_2006_plan_has_the_seeds_kiosks(db: Database) -> None:
    with db.sessions() as s:
        kiosks = s.scalars(select(Kiosk)).all()
        assert len(kiosks) == 20
        assert len({k.site.community for k in kiosks}) == 18
        vorey = s.get(Kiosk, "kiosk-vorey-1")
        assert vorey.service_codes == ["anpe", "urssaf", "cram", "msa"]
        assert {k.site.commune for k in kiosks if k.site.community == "Sancy-Artense"} == {
            "Bagnols",
            "Saint-Donat",
        }
        assert len(s.scalars(select(Counsellor)).all()) >= 12


def test_import_is_idempotent(db: Database, settings) -> None:
    before = dump(db)
    revision = db.revision()
    with db.session() as session:
        report = apply_plan(session, load_plan(PLAN_2006), settings.sip_domain)
    assert not report.changed and report.secrets == {}
    assert dump(db) == before
    assert db.revision() == revision


def test_reimport_after_edit_updates_only_what_changed(db: Database, settings) -> None:
    raw = copy.deepcopy(RAW)
    vorey = next(s for s in raw["sites"] if s["id"] == "vorey")
    vorey["routes"]["msa"]["windows"][0]["to"] = "16:00"
    with db.session() as session:
        report = apply_plan(session, parse_plan(raw, "edited.yaml"), settings.sip_domain)
    assert report.updated == {"opening_windows": 1} and report.created == {}


def test_secrets_are_random_and_only_their_digest_is_stored(empty_db: Database, settings) -> None:
    with empty_db.session() as session:
        report = apply_plan(session, load_plan(PLAN_2006), settings.sip_domain)
    assert len(report.secrets) == 20 + 19
    assert len(set(report.secrets.values())) == len(report.secrets)
    for secret in report.secrets.values():
        assert len(secret) >= 32  # 24 random bytes, base64url
    with empty_db.sessions() as session:
        kiosk = session.get(Kiosk, "kiosk-vorey-1")
        secret = report.secrets["kiosk-vorey-1"]
        assert kiosk.a1_hash == a1_hash("kiosk-vorey-1", settings.sip_domain, secret)
    stored = json.dumps(dump(empty_db), default=str)
    assert not any(secret in stored for secret in report.secrets.values())


def test_rotated_secret_replaces_the_old_one(db: Database, settings) -> None:
    with db.session() as session:
        new = rotate_secret(session, "anpe-le-puy-c1", settings.sip_domain)
    with db.sessions() as session:
        assert session.get(Counsellor, "anpe-le-puy-c1").a1_hash == a1_hash(
            "anpe-le-puy-c1", settings.sip_domain, new
        )


def _site(raw: dict, ident: str) -> dict:
    return next(s for s in raw["sites"] if s["id"] == ident)


BAD_PLANS = [
    # (mutation, expected text naming entry and field)
    (lambda r: _site(r, "vorey").update(department="99"), r"sites\[9\] \(id=vorey\): department"),
    (lambda r: _site(r, "vorey").update(services=["anpe", "impots"]), r"id=vorey\): services"),
    (
        lambda r: _site(r, "vorey")["routes"]["msa"].update(queue="caf-63"),
        r"id=vorey\): routes\.msa\.queue",
    ),
    (
        lambda r: _site(r, "vorey")["routes"]["msa"]["windows"][0].update(nth=[6]),
        r"id=vorey\): routes\.msa\.windows\[0\]",
    ),
    (
        lambda r: _site(r, "vorey")["routes"]["msa"]["windows"][0].update(days=["vendredi"]),
        r"id=vorey\): routes\.msa\.windows\[0\]\.days",
    ),
    (
        lambda r: _site(r, "vorey")["routes"]["anpe"]["windows"][0].update({"to": "08:00"}),
        r"id=vorey\): routes\.anpe\.windows\[0\]",
    ),
    (
        lambda r: _site(r, "vorey")["routes"]["anpe"]["windows"][0].update({"from": "25:00"}),
        r"routes\.anpe\.windows\[0\]\.from",
    ),
    (
        lambda r: _site(r, "huriel")["routes"].update(msa={"queue": "msa-43"}),
        r"id=huriel\): routes\.msa: the kiosk has no 'msa' button",
    ),
    (lambda r: r["sites"].append(copy.deepcopy(_site(r, "vorey"))), r"duplicate id 'vorey'"),
    (lambda r: r["counsellors"][0].update(agency="anpe-paris"), r"counsellors\[0\].*: agency"),
    (
        lambda r: r["counsellors"][0].update(queues=[{"queue": "msa-43"}]),
        r"counsellors\[0\].*queues\[0\]\.queue: 'msa-43' belongs to another service",
    ),
    (lambda r: r["counsellors"][0].update(id="Bad Login!"), r"counsellors\[0\].*: id"),
    # The control plane's SIP user: registered as it, a counsellor got the kiosks' answers.
    (lambda r: r["counsellors"][0].update(id="pvp"), r"counsellors\[0\].*: id.*'pvp' est réservé"),
    (lambda r: r["counsellors"][0].update(id="msa"), r"counsellors\[0\].*: id.*réservé"),
    (lambda r: r["counsellors"][0].update(id="kiosk-vorey-9"), r"sont ceux d'une borne"),
    (
        lambda r: r["agencies"][0]["queues"][0].update(no_answer_timeout_seconds=0),
        r"agencies\[0\] \(id=anpe-montlucon\): queues\[0\]\.no_answer_timeout_seconds",
    ),
    (lambda r: r["closures"][0].update({"from": "2007-01-01"}), r"closures\[0\]"),
    (lambda r: _site(r, "vorey").update(colour="blue"), r"id=vorey\): colour: Extra inputs"),
    (lambda r: r.pop("services"), r"services: Field required"),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_PLANS)
def test_bad_plans_are_rejected_naming_entry_and_field_and_change_nothing(
    db: Database, settings, tmp_path: Path, mutate, expected: str
) -> None:
    raw = copy.deepcopy(RAW)
    mutate(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    before = dump(db)
    with pytest.raises(PlanError) as err:
        load_plan(path)
    assert str(path) in str(err.value)
    assert re.search(expected, str(err.value)), str(err.value)
    result = CliRunner().invoke(
        main, ["provision", "import", str(path)], env={"PVP_DATA_DIR": str(settings.data_dir)}
    )
    assert result.exit_code == 2
    assert re.search(expected, result.output), result.output
    assert dump(db) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("departments: [", "YAML invalide"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_unreadable_plans(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    with pytest.raises(PlanError, match=expected):
        load_plan(path)
    with pytest.raises(PlanError, match="cannot read"):
        load_plan(tmp_path / "missing.yaml")


def test_times_are_read_as_clock_times_not_base_60(tmp_path: Path) -> None:
    # YAML 1.1 would read 14:00 as the integer 840.
    plan = load_plan(PLAN_2006)
    le_montet = next(s for s in plan.sites if s.id == "le-montet")
    assert le_montet.routes["anpe"].windows[0].start.hour == 14
