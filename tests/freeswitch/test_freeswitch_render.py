"""The rendered FreeSWITCH tree, and its static dialplan checked against ``decide()``.

The fallback's time conditions are evaluated here the way FreeSWITCH's
``switch_xml_std_datetime_check`` does (numbers and ranges, ``time-of-day`` inclusive at
both ends, wall clock of the channel's ``timezone``), then compared with the routing
decision at the same instants: window edges, holidays, a local closure, a booking, and a
seeded random sample.
"""

from __future__ import annotations

import random
import re
import stat
import xml.etree.ElementTree as ET
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pvp import appointments
from pvp.calendar import Mode, Window
from pvp.config import Settings
from pvp.db import Database
from pvp.freeswitch.certs import write_test_certs
from pvp.freeswitch.fallback import fs_wday, window_conditions
from pvp.freeswitch.render import RenderError, render
from pvp.plan_view import load_routing_plan
from pvp.routing import DecisionKind, RoutingPlan, decide

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2006, 11, 1)
SERVICES = ("anpe", "caf", "msa", "urssaf", "cram", "udaf")


def parse(path: Path) -> ET.Element:
    return ET.fromstring(path.read_bytes())


@pytest.fixture
def tree(settings: Settings, db: Database, tmp_path: Path) -> Path:
    with db.session() as session:
        plan = load_routing_plan(session, settings)
        start = datetime(2006, 11, 8, 10, 0, tzinfo=PARIS)
        appointments.book(
            session, plan, appointments.Booking("vorey", "anpe", "anpe-le-puy-c1", start)
        )
    out = tmp_path / "fs"
    render(settings, db, out, TODAY)
    return out


def test_every_file_is_well_formed_xml_and_secrets_are_private(tree: Path) -> None:
    files = sorted(p for p in tree.rglob("*.xml"))
    assert {p.relative_to(tree).as_posix() for p in files} >= {
        "freeswitch.xml",
        "sip_profiles/pvp.xml",
        "dialplan/pvp-static.xml",
        "dialplan/pvp-kiosks.xml",
        "directory/pvp.xml",
        "autoload_configs/xml_curl.conf.xml",
    }
    for path in files:
        parse(path)
    for secret in (
        "autoload_configs/xml_curl.conf.xml",
        "autoload_configs/event_socket.conf.xml",
        "directory/pvp.xml",
    ):
        assert stat.S_IMODE((tree / secret).stat().st_mode) == 0o600, secret


def test_bindings_socket_and_profile_come_from_the_settings(tree: Path, settings: Settings) -> None:
    curl = parse(tree / "autoload_configs/xml_curl.conf.xml")
    urls = {
        p.get("bindings"): p.get("value")
        for p in curl.iter("param")
        if p.get("name") == "gateway-url"
    }
    assert urls == {
        "directory": f"{settings.base_url()}/freeswitch/directory",
        "dialplan": f"{settings.base_url()}/freeswitch/dialplan",
    }
    creds = {p.get("value") for p in curl.iter("param") if p.get("name") == "gateway-credentials"}
    assert creds == {f"{settings.xml_curl_user}:{settings.secret('xml_curl_password')}"}
    timeouts = {p.get("value") for p in curl.iter("param") if p.get("name") == "timeout"}
    assert timeouts == {str(settings.xml_curl_timeout_seconds)}

    esl = {
        p.get("name"): p.get("value")
        for p in parse(tree / "autoload_configs/event_socket.conf.xml").iter("param")
    }
    assert esl["listen-ip"] == settings.esl_host
    assert esl["listen-port"] == str(settings.esl_port)
    assert esl["password"] == settings.secret("esl_password")
    assert esl["apply-inbound-acl"] == "pvp-esl"

    profile = {
        p.get("name"): p.get("value") for p in parse(tree / "sip_profiles/pvp.xml").iter("param")
    }
    assert profile["sip-ip"] == profile["rtp-ip"] == settings.sip_host
    assert profile["sip-port"] == str(settings.sip_port)
    assert profile["tls-sip-port"] == str(settings.sip_tls_port)
    assert profile["tls-always-nat"] == "true"
    assert profile["auth-calls"] == "true"
    assert profile["inbound-codec-prefs"] == profile["outbound-codec-prefs"]
    assert profile["inbound-codec-prefs"].startswith("OPUS,VP8,")
    assert profile["wss-binding"] == f"{settings.sip_host}:{settings.sip_wss_port}"
    assert "ws-binding" not in profile  # plain WebSocket only when a lab asks for it
    assert profile["apply-candidate-acl"] == "pvp-webrtc"
    acl = parse(tree / "autoload_configs/acl.conf.xml")
    webrtc = acl.find(".//list[@name='pvp-webrtc']")
    assert webrtc is not None and webrtc.get("default") == "deny"
    assert {n.get("cidr") for n in webrtc.iter("node")} == set(settings.webrtc_networks.split(","))
    # The switch tells neither product nor version (User-Agent, Server, SDP origin).
    assert profile["user-agent-string"] == profile["username"] == "PVP"

    loaded = parse(tree / "autoload_configs/modules.conf.xml").iter("load")
    modules = {m.get("module") for m in loaded}
    assert {"mod_sofia", "mod_event_socket", "mod_xml_curl", "mod_spandsp", "mod_sms"} <= modules
    assert not modules & {"mod_verto", "mod_callcenter", "mod_signalwire", "mod_conference"}

    zone = parse(tree / "autoload_configs/timezones.conf.xml").find(".//zone")
    assert zone is not None and zone.get("value") == "CET-1CEST,M3.5.0,M10.5.0/3"


def test_the_static_directory_holds_every_device(tree: Path, db: Database) -> None:
    users = {u.get("id") for u in parse(tree / "directory/pvp.xml").iter("user")}
    assert "kiosk-vorey-1" in users and "msa-43-c1" in users
    assert len(users) == 20 + 19


# --- FreeSWITCH's time conditions, as switch_xml.c / switch_utils.c evaluate them ---------


def number_cmp(expression: str, value: int) -> bool:
    for part in expression.split(","):
        low, _, high = part.partition("-")
        if (int(low) <= value <= int(high)) if high else int(low) == value:
            return True
    return False


def seconds(text: str) -> int:
    h, m, *s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + (s[0] if s else 0)


def tod_cmp(expression: str, value: int) -> bool:
    return any(
        seconds(a) <= value <= seconds(b)
        for a, b in (part.split("-") for part in expression.split(","))
    )


def time_match(cond: ET.Element, local: datetime) -> bool:
    checks = {
        "year": lambda e: number_cmp(e, local.year),
        "mon": lambda e: number_cmp(e, local.month),
        "mday": lambda e: number_cmp(e, local.day),
        "wday": lambda e: number_cmp(e, fs_wday(local.weekday())),
        "time-of-day": lambda e: tod_cmp(e, local.hour * 3600 + local.minute * 60 + local.second),
    }
    unknown = set(cond.attrib) - set(checks) - {"field", "expression"}
    assert not unknown, f"the evaluator does not know {unknown}"
    return all(check(cond.get(name)) for name, check in checks.items() if cond.get(name))


def hunt(context: ET.Element, variables: dict[str, str], local: datetime) -> dict[str, str]:
    """The ``set`` actions of the first matching extension (continue=false)."""
    for extension in context.iter("extension"):
        for cond in extension.findall("condition"):
            field = cond.get("field")
            if field:
                name = field[2:-1] if field.startswith("${") else field
                if not re.search(cond.get("expression", ""), variables[name]):
                    break
            elif not time_match(cond, local):
                break
        else:
            acts = [
                a.get("data", "") for a in extension.iter("action") if a.get("application") == "set"
            ]
            return dict(a.split("=", 1) for a in acts)
    raise AssertionError("no extension matched")


def static_outcome(
    context: ET.Element, plan: RoutingPlan, kiosk: str, service: str, at: datetime
) -> tuple[str, str | None, str | None, str | None]:
    variables = {
        "pvp_kiosk": kiosk,
        "pvp_site": plan.kiosks[kiosk].site,
        "destination_number": service,
    }
    found = hunt(context, variables, at.astimezone(PARIS))
    queued = found["pvp_decision"] in ("walk_in", "appointment")
    return (
        found["pvp_decision"],
        found.get("pvp_reason"),
        found.get("pvp_queue") if queued else None,
        found.get("pvp_counsellor"),
    )


def decided(
    plan: RoutingPlan, kiosk: str, service: str, at: datetime
) -> tuple[str, str | None, str | None, str | None]:
    d = decide(plan, kiosk, service, at)
    queued = d.decision in (DecisionKind.WALK_IN, DecisionKind.APPOINTMENT)
    return (
        d.decision.value,
        d.reason.value if d.reason else None,
        d.queue if queued else None,
        d.counsellor,
    )


def edges(plan: RoutingPlan) -> list[tuple[str, str, datetime]]:
    """Each window's first occurrences in the period, one second either side of its ends."""
    kiosk_of = {k.site: k.id for k in plan.kiosks.values()}
    cases = []
    for (site, service), route in plan.routes.items():
        for window in route.schedule.windows:
            days = [TODAY + timedelta(days=n) for n in range(70)]
            for day in [d for d in days if window.applies_on(d)][:2]:
                for wall in (window.start, window.end):
                    moment = datetime.combine(day, wall, PARIS)
                    for delta in (-1, 0):
                        cases.append((kiosk_of[site], service, moment + timedelta(seconds=delta)))
    booking = datetime(2006, 11, 8, 10, 0, tzinfo=PARIS)
    for delta in (-15 * 60 - 1, -15 * 60, 0, 20 * 60, 20 * 60 + 1):
        cases.append(("kiosk-vorey-1", "anpe", booking + timedelta(seconds=delta)))
    for day in (date(2006, 12, 25), date(2006, 12, 27), date(2007, 1, 1)):
        for kiosk in kiosk_of.values():
            for service in SERVICES:
                cases.append((kiosk, service, datetime.combine(day, time(10), PARIS)))
    return cases


def test_the_static_dialplan_routes_as_decide_does(
    tree: Path, db: Database, settings: Settings
) -> None:
    context = parse(tree / "dialplan/pvp-kiosks.xml").find("context[@name='pvp-kiosks']")
    assert context is not None
    with db.sessions() as session:
        plan = load_routing_plan(session, settings)
    rng = random.Random(2006)
    kiosks = sorted(plan.kiosks)
    cases = edges(plan)
    start = datetime.combine(TODAY, time(0), PARIS)
    for _ in range(1500):
        at = start + timedelta(seconds=rng.randrange(70 * 86400))
        cases.append((rng.choice(kiosks), rng.choice(SERVICES), at))
    kinds = set()
    for kiosk, service, at in cases:
        expected = decided(plan, kiosk, service, at)
        assert static_outcome(context, plan, kiosk, service, at) == expected, (kiosk, service, at)
        kinds.add((expected[0], expected[1]))
    assert kinds >= {
        ("walk_in", None),
        ("appointment", None),
        ("closed", "outside_windows"),
        ("closed", "public_holiday"),
        ("closed", "local_closure"),
        ("appointment_required", "appointment_only"),
        ("no_such_service", "no_button"),
    }


def test_fourth_friday_is_a_weekday_and_a_day_of_month_range() -> None:
    window = Window(Mode.WALK_IN, frozenset({4}), time(9), time(12), nth=frozenset({4}))
    assert window_conditions(window, TODAY, TODAY) == [
        {"wday": "6", "mday": "22-28", "time-of-day": "09:00:00-11:59:59"}
    ]


def test_windows_with_exceptions_or_last_of_month_are_dated() -> None:
    last_friday = Window(Mode.WALK_IN, frozenset({4}), time(9), time(12), nth=frozenset({-1}))
    assert window_conditions(last_friday, date(2006, 11, 1), date(2006, 12, 31)) == [
        {"year": "2006", "mon": "11", "mday": "24", "time-of-day": "09:00:00-11:59:59"},
        {"year": "2006", "mon": "12", "mday": "29", "time-of-day": "09:00:00-11:59:59"},
    ]
    weekly = Window(
        Mode.WALK_IN,
        frozenset({0}),
        time(14),
        time(17),
        except_dates=frozenset({date(2006, 11, 13)}),
    )
    assert window_conditions(weekly, date(2006, 11, 1), date(2006, 11, 30))[0]["mday"] == "6,20,27"


def test_the_fax_in_context_answers_fax_calls_into_the_spool(tmp_path, db, settings) -> None:
    import xml.etree.ElementTree as ET
    from datetime import date

    from pvp.freeswitch.render import render

    render(settings, db, tmp_path / "conf", date(2006, 11, 24))
    tree = ET.parse(tmp_path / "conf" / "dialplan" / "pvp-fax-in.xml")
    context = tree.getroot().find("context")
    assert context is not None and context.get("name") == "pvp-fax-in"
    apps = [a.get("application") for a in context.iter("action")]
    assert "rxfax" in apps and apps.index("answer") < apps.index("rxfax")
    rxfax = next(a for a in context.iter("action") if a.get("application") == "rxfax")
    assert rxfax.get("data", "").startswith(str(settings.data_dir / "fax"))


def test_the_profile_notices_dead_connections_and_stale_registrations(tree: Path) -> None:
    # Issue 15: after a restart the switch listed a counsellor's dead TLS registration.
    profile = {
        p.get("name"): p.get("value") for p in parse(tree / "sip_profiles/pvp.xml").iter("param")
    }
    assert profile["tcp-unreg-on-socket-close"] == "true"
    assert profile["all-reg-options-ping"] == profile["unregister-on-options-fail"] == "true"
    assert profile["sip-user-ping-max"] == "1"  # one failed ping is enough
    assert int(profile["ping-mean-interval"]) <= 10
    assert int(profile["registration-thread-frequency"]) <= 2


def test_a_lab_may_open_plain_websocket_and_narrow_the_candidate_networks(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    lab = settings.model_copy(update={"sip_ws_port": 5066, "webrtc_networks": "10.43.0.0/16"})
    render(lab, db, tmp_path / "fs", TODAY)
    profile = {
        p.get("name"): p.get("value")
        for p in parse(tmp_path / "fs/sip_profiles/pvp.xml").iter("param")
    }
    assert profile["ws-binding"] == f"{lab.sip_host}:5066"
    acl = parse(tmp_path / "fs/autoload_configs/acl.conf.xml")
    nodes = acl.findall(".//list[@name='pvp-webrtc']/node")
    assert [n.get("cidr") for n in nodes] == ["10.43.0.0/16"]


@pytest.mark.parametrize("networks", ["10.0.0.0/33", "kiosks", " , "])
def test_bad_candidate_networks_are_refused_and_nothing_is_written(
    settings: Settings, db: Database, tmp_path: Path, networks: str
) -> None:
    render(settings, db, tmp_path / "fs", TODAY)
    before = {p: p.read_bytes() for p in (tmp_path / "fs").rglob("*.xml")}
    bad = settings.model_copy(update={"webrtc_networks": networks})
    with pytest.raises(RenderError, match="webrtc_networks"):
        render(bad, db, tmp_path / "fs", TODAY)
    assert {p: p.read_bytes() for p in (tmp_path / "fs").rglob("*.xml")} == before


def test_test_certificates_include_the_websocket_one(tmp_path: Path) -> None:
    ca = write_test_certs(tmp_path / "certs", ["127.0.0.1"])
    wss = (tmp_path / "certs/wss.pem").read_bytes()
    assert wss == (tmp_path / "certs/agent.pem").read_bytes()
    assert b"PRIVATE KEY" in wss and ca.read_bytes() in wss
    assert stat.S_IMODE((tmp_path / "certs/wss.pem").stat().st_mode) == 0o600


def _gateway_urls(tree: Path, section: str) -> list[str]:
    curl = parse(tree / "autoload_configs/xml_curl.conf.xml")
    return [
        p.get("value", "")
        for p in curl.iter("param")
        if p.get("name") == "gateway-url" and p.get("bindings") == section
    ]


def test_the_switch_asks_every_control_plane_in_the_order_given(
    settings: Settings, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from pvp.cli import main

    out = tmp_path / "fs"
    result = CliRunner().invoke(
        main,
        ["freeswitch", "render", "--out", str(out)]
        + ["--control-plane", "http://10.0.0.2:8470/", "--control-plane", "http://10.0.0.1:8470"],
        env={"PVP_DATA_DIR": str(settings.data_dir)},
    )
    assert result.exit_code == 0, result.output
    # mod_xml_curl tries a section's bindings in document order: the first one named first.
    assert _gateway_urls(out, "directory") == [
        "http://10.0.0.2:8470/freeswitch/directory",
        "http://10.0.0.1:8470/freeswitch/directory",
    ]
    assert _gateway_urls(out, "dialplan") == [
        "http://10.0.0.2:8470/freeswitch/dialplan",
        "http://10.0.0.1:8470/freeswitch/dialplan",
    ]
    names = [
        b.get("name") for b in parse(out / "autoload_configs/xml_curl.conf.xml").iter("binding")
    ]
    assert len(set(names)) == 4


def test_a_control_plane_url_that_is_not_http_is_refused(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    bad = settings.model_copy(update={"control_plane_urls": "http://10.0.0.1:8470,10.0.0.2"})
    with pytest.raises(RenderError, match="control_plane_urls"):
        render(bad, db, tmp_path / "fs", TODAY)
    assert not (tmp_path / "fs").exists()


def test_behind_kamailio_the_profile_trusts_its_address_and_its_identity_header(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    pooled = settings.model_copy(update={"sip_proxy": "192.0.2.5:5060"})
    render(pooled, db, tmp_path / "fs", TODAY)
    profile = {
        p.get("name"): p.get("value")
        for p in parse(tmp_path / "fs/sip_profiles/pvp.xml").iter("param")
    }
    assert profile["apply-inbound-acl"] == profile["apply-register-acl"] == "pvp-proxy"
    assert profile["apply-inbound-acl-x-token"] == "X-PVP-Identity"
    assert profile["auth-calls"] == "true"  # everyone else is still challenged
    acl = parse(tmp_path / "fs/autoload_configs/acl.conf.xml")
    nodes = acl.findall(".//list[@name='pvp-proxy']/node")
    assert [(n.get("type"), n.get("cidr")) for n in nodes] == [("allow", "192.0.2.5/32")]


def test_a_single_switch_trusts_no_proxy(tree: Path) -> None:
    profile = {p.get("name") for p in parse(tree / "sip_profiles/pvp.xml").iter("param")}
    assert not profile & {"apply-inbound-acl", "apply-register-acl", "apply-inbound-acl-x-token"}
    assert b"pvp-proxy" not in (tree / "autoload_configs/acl.conf.xml").read_bytes()


@pytest.mark.parametrize("proxy", ["kamailio.example:5060", "192.0.2.5", "192.0.2.5:0"])
def test_a_proxy_named_or_without_port_is_refused(
    settings: Settings, db: Database, tmp_path: Path, proxy: str
) -> None:
    with pytest.raises(RenderError, match="sip_proxy|HOST:PORT"):
        render(settings.model_copy(update={"sip_proxy": proxy}), db, tmp_path / "fs", TODAY)
    assert not (tmp_path / "fs").exists()


def test_cli_renders_behind_a_proxy(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pvp.cli import main

    out = tmp_path / "fs"
    env = {"PVP_DATA_DIR": str(tmp_path / "data")}
    args = ["freeswitch", "render", "--out", str(out), "--behind-proxy", "127.0.0.2:5070"]
    made = CliRunner().invoke(main, args, env=env)
    assert made.exit_code == 0, made.output
    assert 'cidr="127.0.0.2/32"' in (out / "autoload_configs/acl.conf.xml").read_text()
    bad = CliRunner().invoke(main, [*args[:-1], "kamailio:5070"], env=env)
    assert bad.exit_code == 2 and "IP address" in bad.output
