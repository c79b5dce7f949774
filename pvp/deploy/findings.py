"""What a check of ``pvp doctor`` found: a French sentence for the site, an English one for logs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    french: str
    english: str


def ok(check: str, french: str, english: str) -> Finding:
    return Finding(check, True, french, english)


def problem(check: str, french: str, english: str) -> Finding:
    return Finding(check, False, french, english)
