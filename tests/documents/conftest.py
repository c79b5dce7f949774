"""Document tests of the control plane: a real HTTP server, SQLite, files on disk."""

from __future__ import annotations

from documents_fixtures import control  # noqa: F401 - a fixture
