"""Document tests of the control plane: a real HTTP server, SQLite, files on disk."""

from __future__ import annotations

from testkit.documents import control  # noqa: F401 - a fixture
