"""Form bases: French messages from WTForms' own catalogue, and errors that name their field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, IntegerField, SelectChoice, SelectMultipleField, widgets
from wtforms.meta import DefaultMeta
from wtforms.validators import ValidationError

from pvp.services.plan_rows import RowRefused

# A store's refusal names the field at fault: the form shows the message there.
FieldError = RowRefused


class PanelForm(FlaskForm):
    class Meta(FlaskForm.Meta):
        locales = ("fr_FR", "fr")

        def get_translations(self, form: Any) -> Any:
            # WTForms ships a French catalogue; Flask-WTF's would need Flask-Babel.
            return DefaultMeta.get_translations(self, form)

    def validate(self, extra_validators: Any = None) -> bool:
        # WTForms' NumberRange turns an int into a float: a 400-digit number would raise
        # OverflowError (a 500). Such a number is refused here as out of range.
        for field in self:
            if isinstance(field, IntegerField) and isinstance(field.data, int):
                if abs(field.data) >= 2**63:
                    field.data = None
                    field.process_errors.append("nombre hors limites")
        return bool(super().validate(extra_validators))

    def error_lines(self) -> list[str]:
        """``« Commune » : Ce champ est requis.`` for each error, in field order."""
        lines = []
        for field in self:
            for error in field.errors:
                lines.append(f"« {field.label.text} » : {error}")
        return lines

    def fail(self, field: Field, message: str) -> None:
        """Attach an error found after validation (a database check) to a field."""
        field.errors = [*field.errors, message]


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def csv_of_ints(allowed: set[int], label: str) -> Any:
    def check(form: Any, field: Field) -> None:
        text = (field.data or "").strip()
        if not text:
            return
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise ValidationError(f"{label} : des nombres séparés par des virgules") from None
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValidationError(f"{label} : valeur non permise {bad[0]}")

    return check


_PHONE_SEPARATORS = re.compile(r"[\s.\-/()]")


def french_phone(text: str) -> str:
    """A phone number as people write it in France, written the usual way.

    ``04-71-00-00-00``, ``04.71.00.00.00``, ``0471000000`` → ``04 71 00 00 00``;
    ``+33 (0)4 71 00 00 00`` → ``+33 4 71 00 00 00``; a short number (``3949``) stays.
    Raises ``ValueError`` with a French message otherwise.
    """
    compact = _PHONE_SEPARATORS.sub("", text.strip()).replace("+33(0)", "+33")
    compact = compact.replace("+330", "+33")
    if compact.startswith("0033"):
        compact = "+33" + compact[4:]
    if re.fullmatch(r"0[1-9]\d{8}", compact):
        return " ".join(compact[i : i + 2] for i in range(0, 10, 2))
    if re.fullmatch(r"\+33[1-9]\d{8}", compact):
        rest = compact[4:]
        return f"+33 {compact[3]} " + " ".join(rest[i : i + 2] for i in range(0, 8, 2))
    if re.fullmatch(r"\+[1-9]\d{6,14}", compact) or re.fullmatch(r"[1-9]\d{2,5}", compact):
        return compact
    raise ValueError("numéro de téléphone invalide : 10 chiffres, p. ex. 04 71 00 00 00")


def phone_number(form: Any, field: Field) -> None:
    """Validator: accept the usual French ways of writing a number and store it normalized."""
    if field.data and field.data.strip():
        try:
            field.data = french_phone(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def opts(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs (WTForms 3.3 retires bare tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]
