"""What both programs' commands (``pvp``, ``pvp-kiosk``) share."""

from __future__ import annotations

from typing import Any

import click


class Refused(click.ClickException):
    """A request PVP understood and refuses: exit status 2, the reason on stderr."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"pvp: {self.message}", err=True)
