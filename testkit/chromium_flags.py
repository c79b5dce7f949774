"""The flags every browser test starts Debian's Chromium with (headless, no network chatter).

A module of its own: ``from conftest import …`` finds whichever conftest.py comes first on
sys.path, not necessarily tests/conftest.py.
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
