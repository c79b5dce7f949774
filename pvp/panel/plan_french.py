"""A plan's problems (``pvp.plan``'s English, shared with the CLI) told in French in the
panel: the place in the file is kept as written, the message after it translated."""

from __future__ import annotations

import re
from collections.abc import Callable

NOUNS = {
    "agency": "agence inconnue",
    "department": "département inconnu",
    "queue": "file inconnue",
    "service": "service inconnu",
    "site": "site inconnu",
}
TYPES = {
    "string": "texte attendu",
    "integer": "nombre entier attendu",
    "boolean": "oui ou non attendu",
    "list": "liste attendue",
    "dictionary": "dictionnaire attendu",
    "time": "heure attendue (HH:MM)",
    "date": "date attendue (AAAA-MM-JJ)",
}

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]
RULES: list[Rule] = [
    (re.compile(r"unknown (\w+) (.+)"), lambda m: f"{NOUNS.get(m[1], m[1] + ' inconnu')} : {m[2]}"),
    (re.compile(r"duplicate id (.+)"), lambda m: f"identifiant en double : {m[1]}"),
    (
        re.compile(r"(.+) belongs to another service"),
        lambda m: f"{m[1]} appartient à un autre service",
    ),
    (
        re.compile(r"(.+) is a queue of another service"),
        lambda m: f"{m[1]} est une file d'un autre service",
    ),
    (re.compile(r"the kiosk has no (.+) button"), lambda m: f"la borne n'a pas de bouton {m[1]}"),
    (
        re.compile(r"a service button is listed twice"),
        lambda m: "un bouton de service figure deux fois",
    ),
    (
        re.compile(r"(.+) is not a station of (.+)"),
        lambda m: f"{m[1]} n'est pas un poste de {m[2]}",
    ),
    (
        re.compile(r"the plan must be a mapping.*"),
        lambda m: "le plan doit être un dictionnaire (departments, services, …)",
    ),
    (re.compile(r"Field required"), lambda m: "champ obligatoire"),
    (re.compile(r"Extra inputs are not permitted"), lambda m: "champ inconnu"),
    (
        re.compile(r"Input should be a valid (\w+).*"),
        lambda m: TYPES.get(m[1], f"valeur invalide ({m[1]} attendu)"),
    ),
    (
        re.compile(r"Input should be greater than or equal to (\S+)"),
        lambda m: f"au moins {m[1]}",
    ),
    (re.compile(r"Input should be less than or equal to (\S+)"), lambda m: f"au plus {m[1]}"),
    (
        re.compile(r"Input should be (.+)"),
        lambda m: "valeur attendue : " + m[1].replace(" or ", " ou "),
    ),
    (re.compile(r"String should match pattern '(.+)'"), lambda m: f"format invalide ({m[1]})"),
    (
        re.compile(r"String should have at most (\d+) characters?"),
        lambda m: f"{m[1]} caractères au plus",
    ),
    (
        re.compile(r"String should have at least (\d+) characters?"),
        lambda m: f"{m[1]} caractères au moins",
    ),
    (
        re.compile(r"List should have at least (\d+) items? after validation, not \d+"),
        lambda m: f"au moins {m[1]} élément{'s' if int(m[1]) > 1 else ''} attendu",
    ),
    (re.compile(r"'from' is after 'to'"), lambda m: "l'heure « from » suit l'heure « to »"),
    (
        re.compile(r"station id (.+) must match .+"),
        lambda m: f"identifiant de poste {m[1]} invalide (minuscules, chiffres, point, tiret)",
    ),
]


def _message(text: str) -> str:
    text = text.removeprefix("Value error, ")
    for pattern, french in RULES:
        found = pattern.fullmatch(text)
        if found:
            return french(found)
    return text


def plan_problem_text(problem: str) -> str:
    """``sites[1] (id=vorey): routes.anpe.queue: unknown queue 'x'`` →
    ``sites[1] (id=vorey): routes.anpe.queue: file inconnue : 'x'``."""
    # The message may itself hold ": " (an unknown value): try the longest message first.
    parts = problem.split(": ")
    for i in range(1, len(parts)):
        head, tail = ": ".join(parts[:i]), ": ".join(parts[i:])
        translated = _message(tail)
        if translated != tail:
            return f"{head} : {translated}"
    return _message(problem)  # unchanged when no rule knows it
