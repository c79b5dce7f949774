"""The extras in setup.cfg fit the code: each program's third-party imports are installed by
its own extra (or the shared base), and neither extra carries the other program's."""

from __future__ import annotations

import ast
import configparser
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SHARED = ("pvp/wire", "pvp/common")
KIOSK = ("pvp/kiosk",)


def declared(*extras: str) -> set[str]:
    """Distributions setup.cfg asks for: the base and the given extras, with what they require."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in extras:
        lines += cfg["options.extras_require"][extra].splitlines()
    wanted = [Requirement(line) for line in lines if line.strip()]
    return closure(wanted)


def closure(wanted: list[Requirement]) -> set[str]:
    found: set[str] = set()
    while wanted:
        req = wanted.pop()
        name = canonicalize_name(req.name)
        if name in found:
            continue
        found.add(name)
        for line in metadata.requires(req.name) or ():
            sub = Requirement(line)
            env = {"extra": next(iter(req.extras), "")}
            if sub.marker is None or sub.marker.evaluate(env):
                wanted.append(sub)
    return found


def modules(*folders: str) -> list[Path]:
    return [path for folder in folders for path in (ROOT / folder).rglob("*.py")]


def control_modules() -> list[Path]:
    """The control plane: everything under pvp/ but the kiosk and the shared package."""
    theirs = [ROOT / folder for folder in (*SHARED, *KIOSK)]
    return [p for p in modules("pvp") if not any(p.is_relative_to(t) for t in theirs)]


def third_party_imports(paths: Iterable[Path]) -> set[str]:
    """Distributions that ``paths`` import (at top level or in functions)."""
    tops: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                tops.add(node.module.split(".")[0])
    owners = metadata.packages_distributions()
    dists = set()
    for top in tops - set(sys.stdlib_module_names) - {"pvp", "__future__"}:
        dists.update(canonicalize_name(d) for d in owners.get(top, [top]))
    return dists


@pytest.mark.parametrize(
    ("folders", "extra"), [((*SHARED, *KIOSK), "kiosk"), (SHARED, None)], ids=["kiosk", "base"]
)
def test_the_kiosk_and_the_base_install_what_they_import(
    folders: tuple[str, ...], extra: str | None
) -> None:
    assert third_party_imports(modules(*folders)) - declared(*filter(None, [extra])) == set()


def test_the_extras_carry_nothing_of_the_other_program() -> None:
    kiosk_only = declared("kiosk") - declared("control")
    control_only = declared("control") - declared("kiosk")
    assert kiosk_only & third_party_imports(control_modules()) == set()
    assert third_party_imports(control_modules()) - declared("control", "postgres") == set()
    assert {"sqlalchemy", "alembic", "holidays", "pyhanko"} <= control_only
    assert {"pycups", "python-sane", "evdev", "aiosipua"} <= kiosk_only
