"""Fixtures of the kiosk tests: the real device services (a private cupsd and SANE's test
scanner, skipped with the reason only where they are not installed) and a test PKI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvp.kiosk.scanner import Scanner
from testkit.certs import Pki, make_pki
from testkit.devices import (
    CupsServer,
    DeviceMissing,
    FileQueue,
    write_sane_test_config,
)

SANE_TEST_DEVICE = "test:0"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test PKI (CA, switch, kiosk), made once per session."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def cups_server() -> Iterator[CupsServer]:
    """One cupsd for the session; each test makes its own queues."""
    try:
        server = CupsServer()
    except DeviceMissing as exc:
        pytest.skip(str(exc))
    with server:
        yield server


def _queue_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pdf_queue(cups_server: CupsServer) -> FileQueue:
    """A queue whose file: device receives the PDF exactly as sent."""
    name = _queue_name("kiosk")
    return FileQueue(name, cups_server.server, cups_server.add_file_queue(name))


@pytest.fixture
def empty_tray_queue(cups_server: CupsServer) -> str:
    """A queue whose backend reports an empty paper tray and stops the queue."""
    name = _queue_name("empty")
    cups_server.add_empty_tray_queue(name)
    return name


@pytest.fixture(scope="session")
def sane_test_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """SANE_CONFIG_DIR with only the test backend, for the whole session.

    libsane reads the variable once per process, so it is set once and left for the
    session; the scanner's simulated failures are options of each scan instead.
    """
    try:
        directory = write_sane_test_config(tmp_path_factory.mktemp("sane"))
    except DeviceMissing as exc:
        pytest.skip(str(exc))
    previous = os.environ.get("SANE_CONFIG_DIR")
    os.environ["SANE_CONFIG_DIR"] = str(directory)
    if not Scanner(SANE_TEST_DEVICE).status().present:
        pytest.fail(f"{SANE_TEST_DEVICE} not listed: was SANE used in this process before?")
    yield directory
    if previous is None:
        os.environ.pop("SANE_CONFIG_DIR", None)
    else:
        os.environ["SANE_CONFIG_DIR"] = previous


@pytest.fixture
def sane_device(sane_test_config: Path) -> str:
    return SANE_TEST_DEVICE


# The control plane over HTTP, for the full counsellor -> kiosk -> device paths.
from testkit.documents import control  # noqa: E402, F401
