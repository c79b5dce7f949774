"""One exception base: every error PVP raises on purpose has a stable code and French text."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import pvp
import pvp.common.errors
from pvp.common.errors import PvpError, Refused


def _error_classes() -> list[type[BaseException]]:
    found = []
    for module in pkgutil.walk_packages(pvp.__path__, "pvp."):
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.name
            ):
                found.append(value)
    return found


def test_every_error_class_in_pvp_derives_from_the_base_and_names_its_own_code() -> None:
    classes = _error_classes()
    assert len(classes) >= 30  # the walk did find the package's errors
    strays = [c.__qualname__ for c in classes if not issubclass(c, PvpError)]
    assert strays == []
    codes = {c.__qualname__: vars(c).get("code") for c in classes}
    assert all(
        isinstance(code, str) and re.fullmatch(r"[a-z0-9_]+", code) for code in codes.values()
    )
    assert len(set(codes.values())) == len(codes), codes  # one code, one meaning


def test_a_class_without_a_code_cannot_be_declared() -> None:
    with pytest.raises(TypeError):

        class Nameless(PvpError):  # type: ignore[call-arg]
            pass

    with pytest.raises(TypeError, match="snake_case"):

        class BadCode(PvpError, code="Bad-Code"):
            pass


def test_people_read_french_even_where_the_log_text_is_english() -> None:
    from pvp.routing import RoutingError

    error = RoutingError("unknown kiosk 'kiosk-x-1'")
    assert str(error) == "unknown kiosk 'kiosk-x-1'"  # the log keeps the detail
    assert error.shown() == "borne ou service inconnu [unknown_route]"
    assert Refused("rendez-vous refusé", code="booking_refused").shown() == (
        "rendez-vous refusé [booking_refused]"
    )


def test_errors_keep_the_builtin_kind_callers_catch() -> None:
    from pvp.plan import PlanError
    from pvp.yamlload import YamlError

    assert issubclass(PlanError, ValueError) and issubclass(YamlError, ValueError)
    assert Refused("x").status == 400 and Refused("x").code == "refused"


def test_the_base_imports_nothing_from_pvp_so_the_kiosk_can_build_on_it() -> None:
    tree = ast.parse(Path(pvp.common.errors.__file__).read_text(encoding="utf-8"))
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert "re" in imported  # the walk saw the imports
    assert [m for m in imported if m == "pvp" or m.startswith("pvp.")] == []
