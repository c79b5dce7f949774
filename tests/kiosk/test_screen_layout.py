"""The kiosk screen as the citizen sees it, at the kiosks' two screen sizes (1280×1024 and
1920×1080), with the 2006 plan's real service names: everything fits without scrolling,
every idle button and its opening line is visible, no text is under 32 px, and in a call
the counsellor's picture keeps at least 60 % of the screen, a document beside it filling the
height. Screenshots go to docs/img/ (kept in the repository for the documentation)."""

from __future__ import annotations

import base64
import io
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageDraw

from pvp.kiosk.availability import describe
from pvp.kiosk.screen import Screen, View
from pvp.kiosk.screen.app import create_screen_app

pytestmark = pytest.mark.browser

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2006, 11, 24, 10, 0, tzinfo=PARIS)
# The documentation's pictures are refreshed on demand (PVP_DOCS_SCREENSHOTS=1); a plain run
# leaves the work tree as it was.
DOCS_IMG = (
    Path(__file__).resolve().parents[2] / "docs" / "img"
    if os.environ.get("PVP_DOCS_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "pvp-screenshots"
)
SIZES = [(1280, 1024), (1920, 1080)]
# The plan's services (provisioning/auvergne-2006.yaml), the longest names included.
SERVICES = [
    (
        "anpe",
        "ANPE",
        {
            "decision": "closed",
            "reason": "appointment_only",
            "next_opening": "2006-11-29T09:00:00+01:00",
        },
    ),
    (
        "caf",
        "CAF du Puy-de-Dôme",
        {
            "decision": "closed",
            "reason": "outside_windows",
            "next_opening": "2006-11-28T14:00:00+01:00",
        },
    ),
    (
        "msa",
        "MSA de la Haute-Loire",
        {"decision": "walk_in", "open_until": "2006-11-24T12:00:00+01:00"},
    ),
    (
        "urssaf",
        "URSSAF",
        {
            "decision": "closed",
            "reason": "outside_windows",
            "next_opening": "2006-12-04T14:00:00+01:00",
        },
    ),
    (
        "cram",
        "CRAM Auvergne",
        {
            "decision": "closed",
            "reason": "outside_windows",
            "next_opening": "2006-11-28T09:00:00+01:00",
        },
    ),
    (
        "udaf",
        "UDAF de l'Allier",
        {
            "decision": "closed",
            "reason": "local_closure",
            "detail": "inventaire",
            "next_opening": "2006-11-27T09:00:00+01:00",
        },
    ),
]
KIOSK = {
    "id": "kiosk-vorey-1",
    "commune": "Vorey",
    "buttons": [{"service": code, "label": label} for code, label, _ in SERVICES],
    "site_agent_phone": "04 71 03 00 00",
}


def idle_buttons() -> list[dict[str, Any]]:
    return [describe({"service": c, **d}, label, NOW).__dict__ for c, label, d in SERVICES]


def a4_page() -> str:
    image = Image.new("RGB", (827, 1169), "white")
    draw = ImageDraw.Draw(image)
    for y in range(120, 1100, 60):
        draw.rectangle((80, y, 740, y + 18), fill="black")
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


STATES: list[tuple[View, dict[str, Any], bool]] = [  # view, data, in a call
    (View.IDLE, {"buttons": idle_buttons()}, False),
    (View.CALLING, {"service_label": "MSA de la Haute-Loire"}, False),
    (
        View.CLOSED,
        {
            "title": "Le service ANPE reçoit sur rendez-vous",
            "reason_text": "Un conseiller vous reçoit ici sur rendez-vous uniquement.",
            "next_text": "Pour obtenir un rendez-vous, appelez votre agence ou demandez "
            "à l'agent d'accueil : votre conseiller vous donnera le jour et l'heure où "
            "revenir à cette borne.",
        },
        False,
    ),
    (
        View.OUT_OF_ORDER,
        {"message": "La borne ne joint plus le service de visioconférence."},
        False,
    ),
    (View.RESTARTING, {}, False),
    (
        View.WAITING,
        {"service_label": "MSA de la Haute-Loire", "position": 2, "wait_text": "environ 6 minutes"},
        True,
    ),
    (View.IN_CALL, {"service_label": "MSA de la Haute-Loire", "private": True}, True),
    (
        View.DOCUMENT,
        {"title": "Attestation de droits", "page": 1, "pages": 2, "page_url": a4_page()},
        True,
    ),
    (View.PRINTING, {"pages": 3}, True),
    (View.SCAN, {"pages": 1}, True),
]

# The smallest font size of any element that shows text of its own, and where.
SMALLEST_TEXT = """() => {
  let smallest = [1000, ""];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.display === "none" || style.visibility === "hidden") continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) continue;
    const size = parseFloat(style.fontSize);
    const what = el.tagName + "." + el.className + ": " + el.textContent.trim().slice(0, 40);
    if (size < smallest[0]) smallest = [size, what];
  }
  return smallest;
}"""

# A 1280×720 picture in the counsellor's video element, as a call gives it.
FAKE_CALL = """() => {
  document.body.classList.add("in-call");
  const c = document.createElement("canvas");
  c.width = 1280; c.height = 720;
  const g = c.getContext("2d");
  g.fillStyle = "#2a6"; g.fillRect(0, 0, 1280, 720);
  const remote = document.getElementById("remote");
  remote.srcObject = c.captureStream(5);
  setInterval(() => { g.fillStyle = "#2a6"; g.fillRect(0, 0, 1280, 720); }, 100);
  return remote.play().then(() => true, () => true);
}"""

# The share of the screen the counsellor's picture shows (letterboxing and overlay excluded).
PICTURE = """() => {
  const v = document.getElementById("remote");
  const r = v.getBoundingClientRect();
  if (!v.videoWidth || getComputedStyle(v).display === "none") return 0;
  const scale = Math.min(r.width / v.videoWidth, r.height / v.videoHeight);
  const w = v.videoWidth * scale, h = v.videoHeight * scale;
  const left = r.left + (r.width - w) / 2, top = r.top;  // object-position: center top
  // Less what the state's overlay covers.
  const o = document.getElementById("view").getBoundingClientRect();
  const ox = Math.max(0, Math.min(left + w, o.right) - Math.max(left, o.left));
  const oy = Math.max(0, Math.min(top + h, o.bottom) - Math.max(top, o.top));
  return (w * h - ox * oy) / (innerWidth * innerHeight);
}"""


@pytest.fixture
def screen_url(serve) -> tuple[Screen, str]:
    screen = Screen()
    return screen, serve(create_screen_app(screen, KIOSK))


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_state_fits_the_kiosk_screen_in_large_type(
    chromium: Any, screen_url: tuple[Screen, str], size: tuple[int, int]
) -> None:
    screen, url = screen_url
    width, height = size
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(url)
        for view, data, in_call in STATES:
            snapshot = screen.show(view, **data)
            page.wait_for_selector(f"section[data-version='{snapshot.version}']", timeout=5000)
            if in_call:
                page.evaluate(FAKE_CALL)
                page.wait_for_function("document.getElementById('remote').videoWidth > 0")
            else:
                page.evaluate("document.body.classList.remove('in-call')")
            page.wait_for_timeout(100)
            where = f"{view.value} at {width}×{height}"
            overflow = page.evaluate("document.documentElement.scrollHeight - innerHeight")
            assert overflow <= 0, f"{where}: {overflow} px below the screen"
            size_px, element = page.evaluate(SMALLEST_TEXT)
            assert size_px >= 32, f"{where}: {size_px} px text in {element}"
            if view is View.IDLE:
                for button in page.query_selector_all("button.service"):
                    box = button.bounding_box()
                    assert box and box["y"] >= 0 and box["y"] + box["height"] <= height, where
                    assert button.query_selector(".service-state").is_visible()
            if in_call:
                share = page.evaluate(PICTURE)
                least = 0.6 if view is not View.DOCUMENT else 0.15
                assert share >= least, f"{where}: the counsellor fills {share:.0%}"
            if view is View.DOCUMENT:
                shown = page.query_selector("img.page").bounding_box()
                assert shown and shown["height"] >= 0.75 * height, f"{where}: page {shown}"
            if view in (View.IDLE, View.WAITING, View.DOCUMENT, View.CLOSED):
                DOCS_IMG.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(DOCS_IMG / f"kiosk-{view.value}-{width}x{height}.png"))
    finally:
        context.close()
