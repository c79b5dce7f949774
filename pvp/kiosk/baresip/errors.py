"""Errors of the baresip driver."""

from __future__ import annotations


class BaresipError(Exception):
    """Base of every baresip driver error."""


class BaresipNotConnected(BaresipError):
    """ctrl_tcp is not reachable (baresip down, restarting, or the connection was lost)."""


class BaresipTimeout(BaresipError):
    """baresip did not answer a request in time."""


class BaresipCommandError(BaresipError):
    """baresip answered a command with a failure, or the command cannot be sent at all."""

    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"baresip command {command!r} failed: {detail}")
        self.command = command
        self.detail = detail


class BaresipModuleMissing(BaresipError):
    """A module the configuration needs is not installed."""
