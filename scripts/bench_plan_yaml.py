"""How long a big plan and a YAML alias bomb take to load (README: security figures).

    .venv/bin/python scripts/bench_plan_yaml.py [ENTRIES]

Loads the 2006 plan grown to ENTRIES closures (default 100000) with ``load_plan`` (YAML and
schema, no database), then a small alias bomb, and prints the times. Then imports a plan of
the panel's size bound (505 KiB) into a fresh SQLite database on one thread while another
asks the xml_curl directory every 50 ms, as FreeSWITCH would: the panel imports on the
request's thread, so what matters is that the switch's look-ups stay well under their timeout.
"""

from __future__ import annotations

import base64
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

from pvp.config import Settings
from pvp.db import Database
from pvp.plan import PlanError, load_plan, parse_plan_text
from pvp.provisioning import apply_plan
from pvp.web.app import create_app

PLAN_2006 = Path(__file__).resolve().parent.parent / "provisioning" / "auvergne-2006.yaml"


def big_plan(entries: int) -> str:
    raw = yaml.safe_load(PLAN_2006.read_text())
    sites = [s["id"] for s in raw["sites"]]
    start = date(2006, 1, 1)
    raw["closures"] = [
        {
            "site": sites[i % len(sites)],
            "from": (start + timedelta(days=i % 3000)).isoformat(),
            "to": (start + timedelta(days=i % 3000)).isoformat(),
            "reason": f"fermeture {i}",
        }
        for i in range(entries)
    ]
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def alias_bomb(levels: int = 30, width: int = 100) -> str:
    """The classic bomb: each anchor lists the one below ``width`` times (about 18 KiB)."""
    lines = ['a0: &a0 "lol"']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * width) + "]")
    lines.append(f"name: *a{levels}")
    return "\n".join(lines) + "\n"


def timed(text: str, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.yaml"
        path.write_text(text)
        started = time.perf_counter()
        try:
            plan = load_plan(path)
            outcome = f"loaded ({len(plan.closures)} closures)"
        except PlanError as exc:
            outcome = f"refused: {exc.problems[0][:100]}"
        elapsed = time.perf_counter() - started
    print(f"{name}: {len(text) / 1024:.0f} KiB, {elapsed:.2f} s, {outcome}")


def lookups_during_import(entries: int = 6000) -> None:
    text = big_plan(entries)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        db = Database(settings.resolved_database_url())
        with db.session() as session:
            apply_plan(session, load_plan(PLAN_2006), settings.sip_domain)
        client = create_app(settings, db, {"TESTING": True}).test_client()
        token = f"{settings.xml_curl_user}:{settings.secret('xml_curl_password')}"
        headers = {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
        form = {"section": "directory", "domain": settings.sip_domain, "user": "kiosk-vorey-1"}

        def lookup() -> float:
            started = time.perf_counter()
            assert client.post("/freeswitch/directory", data=form, headers=headers).status_code
            return (time.perf_counter() - started) * 1000

        done = threading.Event()

        def importer() -> None:
            started = time.perf_counter()
            plan = parse_plan_text(text, "panel")
            with db.session() as session:
                apply_plan(session, plan, settings.sip_domain)
            print(f"import of {len(text) // 1024} KiB: {time.perf_counter() - started:.1f} s")
            done.set()

        thread = threading.Thread(target=importer)
        thread.start()
        times = []
        while not done.is_set():
            times.append(lookup())
            time.sleep(0.05)
        thread.join()
        times.sort()
        print(
            f"directory look-ups meanwhile: {len(times)}, median {times[len(times) // 2]:.1f} ms,"
            f" max {times[-1]:.0f} ms"
        )


def main() -> None:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    timed(big_plan(entries), f"plan with {entries} closures")
    timed(alias_bomb(), "alias bomb")
    lookups_during_import()


if __name__ == "__main__":
    main()
