"""The evaluation's figures against the same figures computed independently, in plain Python,
from a generated year of call records for the 2006 plan; the page, its charts and the CSV."""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from panel_helpers import page

from pvp.db import Database
from pvp.panel.stats import Filters, aggregate, evaluate
from pvp.panel.synthetic import generate_year

NOW = datetime(2007, 6, 1, tzinfo=UTC)
CALLS = 12_000


Year = tuple[list[dict[str, Any]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def generated(panel_db_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Year]:
    """The year generated once into a copy of the panel database (generation takes seconds)."""
    path = tmp_path_factory.mktemp("evaluation") / "pvp.sqlite3"
    shutil.copy(panel_db_file, path)
    database = Database(f"sqlite:///{path}")
    with database.session() as session:
        rows = generate_year(session, 2006, CALLS, seed=7)
    database.engine.dispose()
    return path, rows


@pytest.fixture
def year(generated: tuple[Path, Year], pdb: Database) -> Year:
    pdb.engine.dispose()
    shutil.copy(generated[0], pdb.url.removeprefix("sqlite:///"))
    return generated[1]


def _rank(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[math.ceil(round(p * len(values), 9)) - 1]


def expected(
    records: list[dict[str, Any]], appointments: list[dict[str, Any]], dims: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The figures the slow, obvious way: one Python loop per figure."""

    def key(site: str, service: str, instant: datetime) -> tuple[Any, ...]:
        values = {"site": site, "service": service, "month": f"{instant:%Y-%m}"}
        return tuple(values[d] if d in dims else None for d in ("site", "service", "month"))

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[key(r["site_id"], r["service_code"], r["pressed_at"])].append(r)
    out = {}
    for k, rows in groups.items():
        served = [r for r in rows if r["outcome"] == "served"]
        out[k] = {
            "calls": len(rows),
            "served": len(served),
            "abandoned": sum(r["outcome"] == "abandoned" for r in rows),
            "closed": sum(
                r["decision"] in ("closed", "appointment_required") or r["outcome"] == "closed"
                for r in rows
            ),
            "median_wait": _rank([r["wait_seconds"] for r in served], 0.5),
            "p90_wait": _rank([r["wait_seconds"] for r in served], 0.9),
            "median_talk": _rank([r["talk_seconds"] for r in served], 0.5),
            "appointment_calls": sum(r["mode"] == "appointment" for r in served),
            "walk_in_calls": sum(r["mode"] == "walk_in" for r in served),
            "past_appointments": 0,
            "no_shows": 0,
        }
    for a in appointments:
        k = key(a["site_id"], a["service_code"], a["start"])
        if a["status"] != "cancelled" and a["start"] < NOW:
            out[k]["past_appointments"] += 1
            out[k]["no_shows"] += a["status"] == "no_show"
    return out


@pytest.mark.parametrize(
    "dims", [(), ("month",), ("site",), ("service", "month"), ("site", "service", "month")]
)
def test_figures_match_an_independent_computation(
    pdb: Database, year: tuple[list[dict[str, Any]], list[dict[str, Any]]], dims: tuple[str, ...]
) -> None:
    records, appointments = year
    want = expected(records, appointments, dims)
    with pdb.sessions() as session:
        got = {r.key: r for r in aggregate(session, dims, Filters(2006), NOW)}
    assert set(got) == set(want)
    for k, figures in want.items():
        for name, value in figures.items():
            assert getattr(got[k], name) == value, (k, name)
        assert got[k].documents == 0


def test_the_generated_year_is_a_plausible_one(
    year: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    records, appointments = year
    assert len(records) == CALLS and len({r["site_id"] for r in records}) == 20
    assert {r["pressed_at"].year for r in records} == {2006}
    assert any(a["status"] == "no_show" for a in appointments)


def test_filters_restrict_to_a_site_and_a_service(
    pdb: Database, year: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    records, _ = year
    with pdb.sessions() as session:
        (row,) = aggregate(session, (), Filters(2006, site="vorey", service="msa"), NOW)
        assert aggregate(session, (), Filters(2005), NOW)[0].calls == 0
    assert row.calls == sum(r["site_id"] == "vorey" and r["service_code"] == "msa" for r in records)


def test_one_pass_gives_every_level(pdb: Database, year: Any) -> None:
    with pdb.sessions() as session:
        levels = evaluate(session, Filters(2006), [(), ("month",)], NOW)
    assert sum(r.calls for r in levels[("month",)]) == levels[()][0].calls == CALLS


def test_unknown_dimension_is_refused(pdb: Database) -> None:
    with pdb.sessions() as session, pytest.raises(ValueError):
        aggregate(session, ("commune",), Filters(2006))


def test_the_page_shows_totals_charts_and_the_table(as_role: Any, year: Any) -> None:
    text = page(as_role("admin").get("/evaluation/?year=2006"))
    assert f"<strong>{CALLS}</strong> appuis" in text
    assert text.count("<svg") == 3 and "Appels par mois" in text
    assert "http" not in text.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org/2000/svg", ""
    )
    assert 'id="figures"' in text and "nov. 2006" in text


def test_the_csv_has_one_row_per_site_service_and_month(
    as_role: Any, pdb: Database, year: Any
) -> None:
    r = as_role("admin").get("/evaluation/export.csv?year=2006")
    assert r.mimetype == "text/csv"
    rows = list(
        csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    with pdb.sessions() as session:
        finest = aggregate(session, ("site", "service", "month"), Filters(2006))
    assert len(rows) == len(finest)
    assert sum(int(row["appels"]) for row in rows) == CALLS
    assert rows[0]["documents"] == "0"


def test_a_manager_sees_only_their_service(as_role: Any, year: Any) -> None:
    r = as_role("gestion-msa").get("/evaluation/export.csv?year=2006&service=anpe")
    services = {row.split(";")[2] for row in r.get_data(as_text=True).splitlines()[1:]}
    assert services == {"msa"}


def test_a_bad_year_is_named(as_role: Any) -> None:
    r = as_role("admin").get("/evaluation/?year=1900")
    assert r.status_code == 400 and "« Année » : entre 2000 et 2100" in page(r)
    assert as_role("admin").get("/evaluation/export.csv?year=abc").status_code == 400


def test_the_table_is_grouped_by_site_and_service_with_subtotals(
    as_role: Any, pdb: Database, year: Any
) -> None:
    text = page(as_role("admin").get("/evaluation/?year=2006&site=vorey"))
    with pdb.sessions() as session:
        subtotals = aggregate(session, ("site", "service"), Filters(2006, site="vorey"))
    assert text.count('<tr class="subtotal">') == len(subtotals) > 1
    msa = next(s for s in subtotals if s.service == "msa")
    group = text.split('<tbody data-site="vorey" data-service="msa">', 1)[1].split("</tbody>")[0]
    assert "Vorey · MSA" in group and f'<td class="num">{msa.calls}</td>' in group
    assert "vorey</td>" not in text  # the commune, never the id
    assert "white-space: nowrap" in text  # months and durations stay on one line


def test_the_csv_reads_as_numbers_in_a_french_spreadsheet(as_role: Any, year: Any) -> None:
    r = as_role("admin").get("/evaluation/export.csv?year=2006")
    rows = list(
        csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    waits = [row["attente_médiane_s"] for row in rows if row["attente_médiane_s"]]
    assert waits and all(re.fullmatch(r"\d+,\d", w) for w in waits), waits[:5]
    shares = [row["part_rdv_pct"] for row in rows if row["part_rdv_pct"]]
    assert shares and all(re.fullmatch(r"\d{1,3},\d", s) for s in shares), shares[:5]
    assert all(0 <= float(s.replace(",", ".")) <= 100 for s in shares)
    vorey = next(row for row in rows if row["site"] == "vorey")
    assert vorey["commune"] == "Vorey"
