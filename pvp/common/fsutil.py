"""Durable file writes: a file is either wholly there or not at all, even after a power cut."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a temporary file beside ``path``, fsync it, rename it over ``path``, fsync the dir.

    The one way PVP replaces a file others may read meanwhile (a running FreeSWITCH, a restarted
    agent): they see the old file or the new one, never half of it. The temporary name ends in
    no known extension, so no include pattern (``*.xml``) picks it up.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
