"""Bounded YAML (issue 10): an 18 KB alias bomb took 60 s and 4.5 GB before its refusal,
duplicate keys were kept silently, and the pure-Python loader took minutes on big plans."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pvp.cli import main
from pvp.yamlload import PlanLoader, YamlError, load_yaml


def bomb(levels: int = 30, width: int = 100) -> str:
    lines = ['a0: &a0 "lol"']
    for n in range(1, levels + 1):
        lines.append(f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join([*lines, f"name: *a{levels}"]) + "\n"


def test_an_alias_bomb_is_refused_fast_before_anything_is_built() -> None:
    text = bomb()
    assert 14_000 < len(text) < 20_000
    started = time.perf_counter()
    with pytest.raises(YamlError, match=r"ses alias le feraient passer de \d+ à 2\.03e\+60"):
        load_yaml(text)
    assert time.perf_counter() - started < 0.5


def test_a_few_anchors_as_plans_use_them_are_fine() -> None:
    text = "w: &w {mode: walk_in, days: [fri], from: '09:00', to: '12:00'}\n"
    text += "sites:\n" + "".join(f"  - {{id: s{i}, windows: [*w, *w]}}\n" for i in range(50))
    loaded = load_yaml(text)
    assert loaded["sites"][49]["windows"][1]["from"] == "09:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: a\nname: b\n", r"clé 'name' répétée \(ligne 2\)"),
        ("sites:\n  - id: x\n    id: y\n", r"clé 'id' répétée \(ligne 3\)"),
        ("a: &a [*a]\n", "YAML invalide|alias récursif"),
        ("a: " + "[" * 200 + "]" * 200 + "\n", "trop imbriqué"),
        ("a: [\n", "YAML invalide"),
        ("a: !!python/object:os.system {}\n", "YAML invalide"),
    ],
)
def test_bad_yaml_is_refused_saying_why(text: str, expected: str) -> None:
    with pytest.raises(YamlError, match=expected):
        load_yaml(text)


def test_merge_keys_still_work_and_clock_times_stay_strings() -> None:
    loaded = load_yaml("base: &b {from: 14:00, n: 7}\nother: {<<: *b, n: 8}\n")
    assert loaded["other"] == {"from": "14:00", "n": 8}


def test_the_c_parser_is_used_where_pyyaml_has_it() -> None:
    if yaml.__with_libyaml__:
        assert issubclass(PlanLoader, yaml.CSafeLoader)


def test_pvp_provision_import_says_clearly_why_a_bomb_is_refused(tmp_path: Path, settings) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb())
    result = CliRunner().invoke(
        main, ["provision", "import", str(path)], env={"PVP_DATA_DIR": str(settings.data_dir)}
    )
    assert result.exit_code == 2
    assert "ses alias le feraient passer" in result.output and "nothing imported" in result.output
