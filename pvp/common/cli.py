"""What both programs' commands (``pvp``, ``pvp-kiosk``) share."""

from __future__ import annotations

from typing import Any

import click

from pvp.common.errors import PvpError


class Commands(click.Group):
    """A command group where a PvpError raised below it is shown, French message and code, not
    a traceback; exit status 2 (a request understood and refused)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PvpError as exc:
            click.echo(f"pvp: {exc.shown()}", err=True)
            ctx.exit(2)
