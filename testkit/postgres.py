"""A private PostgreSQL cluster for the tests: created in a temporary directory, listening on
127.0.0.1 only, on a free port, as the server's own user when run as root."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.ports import free_port


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def private_cluster() -> Iterator[str]:
    """The URL of a fresh PostgreSQL cluster of its own, stopped and removed at the end;
    the caller is skipped, saying why, where the server or the driver is missing."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    # Not under pytest's tmp dir: its 0700 parents would keep the server's user out.
    base = Path(tempfile.mkdtemp(prefix="pvp-pg-"))
    data = base / "data"
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(base, user)

    def as_user(*cmd: str) -> None:
        prefix = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=60)

    port = free_port()
    as_user(str(bindir / "initdb"), "-D", str(data), "-U", "pvp", "--auth=trust", "-E", "UTF8")
    as_user(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(base / "log"),
        "-o",
        f"-h 127.0.0.1 -p {port} -k {base}",
        "start",
    )
    try:
        as_user(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "pvp", "pvp")
        yield f"postgresql+psycopg://pvp@127.0.0.1:{port}/pvp"
    finally:
        as_user(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
