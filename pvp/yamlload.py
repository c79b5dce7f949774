"""A YAML loader for input from people: bounded, strict about duplicate keys, and fast.

YAML aliases let a few kilobytes stand for billions of values (an "alias bomb"): whatever
walks the loaded data — validation, error reports — then expands it. So the node graph is
measured *before* anything is constructed: a document whose expansion exceeds
:data:`MAX_EXPANSION` times its own size (plus a small allowance) is refused. A mapping that
names a key twice is refused too (YAML says keys are unique; PyYAML keeps the last silently).
libyaml's C parser is used where PyYAML was built with it (about 10 times faster).
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from pvp.common.errors import PvpError

# A legitimate plan reuses a few anchors (a window shared by sites): its expansion is a small
# multiple of its size. A bomb's is astronomical.
MAX_EXPANSION = 10
EXPANSION_ALLOWANCE = 10_000
MAX_DEPTH = 64  # a plan nests about 6 deep; the constructor recurses once per level
MERGE_TAG = "tag:yaml.org,2002:merge"

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(PvpError, ValueError, code="bad_yaml"):
    """A document refused; the message is French and names the place when it can."""


class PlanLoader(_Base):
    """YAML 1.1 reads ``14:00`` as the base-60 integer 840; clock times stay strings."""


PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PlanLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)


_gc_lock = threading.Lock()
_gc_pauses = 0


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building a million nodes makes the cyclic collector rescan them again and again
    (measured: parsing took 2.3 times longer); the nodes hold no cycles worth collecting."""
    global _gc_pauses
    with _gc_lock:
        _gc_pauses += 1
        gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0:
                gc.enable()


def load_yaml(text: str) -> Any:
    """The one document in ``text``; :class:`YamlError` if it is not valid, bounded YAML."""
    with _gc_paused():
        return _load(text)


# libyaml's English problems as a person fixing the file reads them.
YAML_PROBLEMS = (
    ("mapping values are not allowed", "deux-points inattendu (une valeur contient « : » ?)"),
    ("could not find expected ':'", "« : » manquant après une clé"),
    ("cannot start any token", "caractère interdit (tabulation ? indentez avec des espaces)"),
    ("found unexpected end of stream", "guillemet ouvert jamais fermé"),
    ("expected <block end>", "indentation incohérente"),
    ("expected ',' or ']'", "liste entre crochets non fermée"),
    ("expected ',' or '}'", "dictionnaire entre accolades non fermé"),
    ("found undefined alias", "alias (*…) inconnu"),
    ("could not determine a constructor", "étiquette (!…) non permise"),
    ("duplicate key", "clé en double"),
    ("found duplicate anchor", "ancre (&…) en double"),
)


def yaml_error_text(exc: BaseException) -> str:
    """A YAML parser error in French, with where it is."""
    problem = str(getattr(exc, "problem", None) or exc)
    words = next((fr for en, fr in YAML_PROBLEMS if en in problem), "syntaxe incorrecte")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" (ligne {mark.line + 1}, colonne {mark.column + 1})" if mark is not None else ""
    return f"YAML invalide{where} : {words}"


def _load(text: str) -> Any:
    loader = PlanLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise YamlError(yaml_error_text(exc)) from None
        except RecursionError:
            raise YamlError("document trop imbriqué") from None
        if node is None:
            return None
        check_nodes(node)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise YamlError(yaml_error_text(exc)) from None
    finally:
        loader.dispose()


def _where(node: Node) -> str:
    return f"ligne {node.start_mark.line + 1}"


def check_nodes(root: Node) -> None:
    """Refuse duplicate keys, recursive aliases and an expansion past the bound.

    One pass over the distinct nodes (iterative: a deeply nested document cannot exhaust the
    stack); ``expanded`` is the size the data would have once every alias is copied out.
    """
    expanded: dict[int, int] = {}
    on_path: set[int] = set()
    # (node, its children once visited, depth): a node is summed after its children.
    stack: list[tuple[Node, list[Node] | None, int]] = [(root, None, 0)]
    while stack:
        node, kids, depth = stack.pop()
        key = id(node)
        if kids is not None:
            on_path.discard(key)
            expanded[key] = 1 + sum([expanded[id(c)] for c in kids])
            continue
        if key in expanded:
            continue
        if isinstance(node, ScalarNode):
            expanded[key] = 1
            continue
        if key in on_path:
            raise YamlError(f"alias récursif ({_where(node)})")
        if depth > MAX_DEPTH:
            raise YamlError(f"document trop imbriqué ({_where(node)})")
        if isinstance(node, MappingNode):
            _refuse_duplicate_keys(node)
            kids = [n for pair in node.value for n in pair]
        else:
            kids = list(node.value)
        on_path.add(key)
        stack.append((node, kids, depth))
        for child in kids:
            if isinstance(child, ScalarNode):
                expanded[id(child)] = 1
            elif id(child) not in expanded:
                stack.append((child, None, depth + 1))
    distinct = len(expanded)
    limit = MAX_EXPANSION * distinct + EXPANSION_ALLOWANCE
    if expanded[id(root)] > limit:
        raise YamlError(
            f"document refusé : ses alias le feraient passer de {distinct} à "
            f"{expanded[id(root)]:.3g} valeurs (au plus {limit})"
        )


def _refuse_duplicate_keys(node: MappingNode) -> None:
    seen: set[tuple[str, str]] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == MERGE_TAG:
            continue
        name = (key_node.tag, key_node.value)
        if name in seen:
            raise YamlError(f"clé {key_node.value!r} répétée ({_where(key_node)})")
        seen.add(name)
