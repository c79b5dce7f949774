"""The flags every browser test starts Debian's Chromium with (headless, no network chatter).

Used by tests/conftest.py's session ``chromium`` and by testkit/webrtc.py and kiosk_page.py.
"""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
