"""The evaluation's staffing section: arrivals and talk times measured per permanence window,
Erlang C's counsellors needed and today's expected wait, on the page and in the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from panel_helpers import TZ, page

from pvp.calendar import nth_of_month
from pvp.db import Database
from pvp.model import CallRecord
from pvp.panel.staffing_figures import staffing
from pvp.panel.stats import Filters
from pvp.staffing import mean_wait, needed


def fourth_fridays(year: int) -> list[date]:
    day, out = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() == 4 and nth_of_month(day) == 4:
            out.append(day)
        day += timedelta(days=1)
    return out


def _record(n: int, pressed: datetime, talk: float, outcome: str = "served", **kw: Any) -> Any:
    return CallRecord(
        id=f"call-{n}",
        kiosk_id="kiosk-vorey-1",
        site_id="vorey",
        service_code="msa",
        queue_id="msa-43",
        mode="walk_in",
        decision=kw.pop("decision", "walk_in"),
        pressed_at=pressed.astimezone(UTC),
        wait_seconds=30.0,
        talk_seconds=talk,
        outcome=outcome,
    )


def seed_vorey_msa(pdb: Database) -> int:
    """Six presses each 4th Friday, 9:00–12:00 at Vorey (MSA), 900 s each; noise outside."""
    n = 0
    with pdb.session() as session:
        for day in fourth_fridays(2006):
            for minute in (0, 30, 60, 90, 120, 150):
                at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=TZ) + timedelta(
                    minutes=minute
                )
                session.add(_record(n, at, 900.0))
                n += 1
        # Not counted: after the window, on a plain Friday, and a closed press.
        friday = fourth_fridays(2006)[0]
        session.add(
            _record(n, datetime.combine(friday, datetime.min.time(), TZ).replace(hour=13), 900)
        )
        session.add(_record(n + 1, datetime(2006, 1, 6, 10, tzinfo=TZ), 900))
        session.add(
            _record(n + 2, datetime(2006, 1, 27, 10, tzinfo=TZ), 0.1, "closed", decision="closed")
        )
    return 72


def test_the_measured_window_gives_arrivals_talk_and_erlang_c(pdb: Database) -> None:
    seed_vorey_msa(pdb)
    now = datetime(2007, 2, 1, tzinfo=UTC)
    with pdb.session() as session:
        rows = staffing(session, Filters(2006, "vorey", "msa"), TZ, 120, 0.8, now)
    assert len(rows) == 1
    r = rows[0]
    assert (r.site_name, r.window) == ("Vorey", "ven (4e) 09:00–12:00")
    assert r.open_hours == 36 and r.calls == 72
    e = r.estimate
    assert e is not None
    assert e.calls_per_hour == 2.0 and e.talk_seconds == 900.0 and e.load == 0.5
    assert e.staffed == 2  # msa-43-c1 and msa-43-c2
    assert e.needed == needed(2.0, 900.0, 120, 0.8)
    assert e.wait_today == mean_wait(2, 0.5, 900.0)


def test_the_page_and_the_csv_show_the_staffing(as_role: Any, pdb: Database) -> None:
    seed_vorey_msa(pdb)
    manager = as_role("gestion-msa")
    text = page(manager.get("/evaluation/?year=2006&cible=60&part=90"))
    assert "Effectifs nécessaires par plage de permanence" in text
    assert "Objectif : 90 % des appelants servis en 1 min 00 s au plus" in text
    assert "ven (4e) 09:00–12:00" in text and "2,00" in text
    response = manager.get("/evaluation/staffing.csv?year=2006&cible=60&part=90")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(
        csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";")
    )
    vorey = [row for row in rows if row[0] == "Vorey"]
    assert len(vorey) == 1
    assert vorey[0][3:10] == [
        "36,0",
        "72",
        "2,00",
        "900",
        "0,50",
        "2",
        str(needed(2, 900, 60, 0.9)),
    ]
    # A manager sees their own service only.
    assert {row[1] for row in rows[1:]} == {vorey[0][1]}


def test_another_service_manager_does_not_see_msa(as_role: Any, pdb: Database) -> None:
    seed_vorey_msa(pdb)
    text = page(as_role("gestion-anpe").get("/evaluation/?year=2006"))
    assert "ven (4e) 09:00–12:00" not in text


def test_a_bad_target_is_refused_with_a_french_message(as_role: Any) -> None:
    admin = as_role("admin")
    text = page(admin.get("/evaluation/?year=2006&part=120"))
    assert "« Part des appels (%) » : entre 50 et 99 %" in text
    response = admin.get("/evaluation/staffing.csv?year=2006&cible=-5")
    assert response.status_code == 400
