"""How long the evaluation page takes with a year of call records (default 100,000).

    .venv/bin/python -m benchmarks.bench_evaluation [--calls 100000] [--runs 7]

Builds a throw-away SQLite database with the 2006 plan, generates the year, signs in as a
region admin through the real panel (CSRF included) and times full page renders with Flask's
test client: SQL, the percentiles, the SVG charts and the template, as a browser would get them.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from pvp.config import Settings
from pvp.db import Database
from pvp.model import Role
from pvp.panel.security import create_user
from pvp.panel.synthetic import generate_year
from pvp.plan import load_plan
from pvp.provisioning import apply_plan
from pvp.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), session_cookie_secure=False)
        db = Database(settings.resolved_database_url())
        with db.session() as session:
            apply_plan(
                session,
                load_plan(ROOT / "provisioning" / "auvergne-2006.yaml"),
                settings.sip_domain,
            )
            create_user(session, "bench", "bench-password", Role.REGION_ADMIN, None)
        started = time.perf_counter()
        with db.session() as session:
            generate_year(session, 2006, args.calls)
        print(f"generated {args.calls} call records in {time.perf_counter() - started:.1f} s")
        client = create_app(settings, db, {"TESTING": True}).test_client()
        found = TOKEN.search(client.get("/login").get_data(as_text=True))
        assert found, "the sign-in page carries no CSRF token"
        token = found.group(1)
        client.post(
            "/login", data={"login": "bench", "password": "bench-password", "csrf_token": token}
        )
        for label, url in (
            ("evaluation page", "/evaluation/?year=2006"),
            ("CSV export", "/evaluation/export.csv?year=2006"),
            ("staffing CSV (Erlang C)", "/evaluation/staffing.csv?year=2006"),
        ):
            timings = []
            for _ in range(args.runs):
                started = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
            print(
                f"{label}: median {statistics.median(timings) * 1000:.0f} ms, "
                f"max {max(timings) * 1000:.0f} ms over {args.runs} runs "
                f"({len(response.data) // 1024} KiB)"
            )
        db.engine.dispose()


if __name__ == "__main__":
    main()
