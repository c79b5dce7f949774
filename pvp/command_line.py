"""What every ``pvp`` command shares: the context (settings, database, who acts) and refusals.

Its own module so that the command groups of each area (``pvp doc``, ``pvp user``, ``pvp
deploy``…) import it at the top, and :mod:`pvp.cli` imports those groups and adds them to
``pvp`` explicitly: no module imports :mod:`pvp.cli` back.
"""

from __future__ import annotations

import getpass
from zoneinfo import ZoneInfo

import click

from pvp.config import Settings, load_settings
from pvp.db import Database


class Context:
    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.resolved_database_url())
        return self._db

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @property
    def actor(self) -> str:
        """Who the audit log names for a change made on the command line."""
        return f"cli:{getpass.getuser()}"


pass_ctx = click.make_pass_decorator(Context, ensure=True)
