"""How long a big plan and a YAML alias bomb take to load (README: security figures).

    .venv/bin/python scripts/bench_plan_yaml.py [ENTRIES]

Loads the 2006 plan grown to ENTRIES closures (default 100000) with ``load_plan`` (YAML and
schema, no database), then a small alias bomb, and prints the times.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

from pvp.plan import PlanError, load_plan

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


def main() -> None:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    timed(big_plan(entries), f"plan with {entries} closures")
    timed(alias_bomb(), "alias bomb")


if __name__ == "__main__":
    main()
