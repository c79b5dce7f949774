"""Generic list / create / edit / delete views over the plan's tables, with audit and scope.

Each table is described once by an :class:`Entity` (its form, how a row fills the form and
how a valid form is stored); the same views serve the region admin (every row) and a service
manager (the rows of their service only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvp.model import Base
from pvp.panel.forms import FieldError, PanelForm
from pvp.panel.once import show_once
from pvp.panel.security import db, me, settings
from pvp.services import audit, plan, sip_secrets

Scope = str | None  # a service code, or None for every service


@dataclass(frozen=True)
class Entity:
    name: str  # URL segment; the audit log names the table
    title: str  # "Sites"
    singular: str  # "un site"
    model: type[Base]
    form: type[PanelForm]
    columns: tuple[tuple[str, Callable[[Any], Any]], ...]
    # (session, row or None, the form's values) -> row: a pvp.services.plan_rows store
    store: Callable[[Session, Any, Mapping[str, Any]], Any]
    service_of: Callable[[Any], str | None] = lambda row: None
    fill: Callable[[Session, PanelForm, Scope], None] = lambda s, f, scope: None
    load: Callable[[Any], dict[str, Any]] | None = None
    key: Callable[[Any], str] = lambda row: str(row.id)
    parse_key: Callable[[str], Any] = lambda key: key
    extra: Callable[[Any], dict[str, Any]] = lambda row: {}
    locked_on_edit: tuple[str, ...] = ("id",)
    order: tuple[Any, ...] = field(default_factory=tuple)
    note: str = ""
    # What a saved row may still lack (an empty queue): shown, the save is kept.
    warnings: Callable[[Session, Any], list[str]] = lambda session, row: []
    label: Callable[[Any], str] | None = None  # how people name a row; default: its key
    sip_device: bool = False  # a new row is a SIP device: it gets a secret, shown once
    form_note: str = "Une modification s'applique dès le prochain appel."

    def name_of(self, row: Any) -> str:
        return self.label(row) if self.label is not None else self.key(row)

    def snapshot(self, row: Any) -> dict[str, Any] | None:
        return audit.snapshot(row, **self.extra(row))

    def form_data(self, row: Any) -> dict[str, Any]:
        if self.load is not None:
            return self.load(row)
        return {name: getattr(row, name) for name in self.form().data if hasattr(row, name)}


def _get(session: Session, entity: Entity, key: str, scope: Scope) -> Any:
    try:
        pk = entity.parse_key(key)
    except ValueError:
        abort(404)
    if isinstance(pk, int) and not -(2**63) <= pk < 2**63:
        abort(404)  # past the database's integers: no such row
    row = session.get(entity.model, pk)
    if row is None:
        abort(404)
    if scope is not None and entity.service_of(row) != scope:
        abort(403)
    return row


def register_crud(
    bp: Blueprint, entities: dict[str, Entity], scope_of_user: Callable[[], Scope]
) -> None:
    """Add the generic views for ``entities`` to ``bp``."""

    def entity_or_404(name: str) -> Entity:
        entity = entities.get(name)
        if entity is None:
            abort(404)
        return entity

    @bp.get("/<name>/")
    def crud_list(name: str) -> Any:
        entity = entity_or_404(name)
        scope = scope_of_user()
        with db().sessions() as session:
            rows = session.scalars(select(entity.model).order_by(*entity.order)).all()
            shown = [
                (entity.key(r), entity.name_of(r), [fn(r) for _h, fn in entity.columns])
                for r in rows
                if scope is None or entity.service_of(r) == scope
            ]
        return render_template("crud_list.html", entity=entity, rows=shown, bp=bp.name)

    def save(name: str, key: str | None) -> Any:
        entity = entity_or_404(name)
        scope = scope_of_user()
        with db().sessions() as session:
            row = _get(session, entity, key, scope) if key is not None else None
            form = entity.form(data=entity.form_data(row) if row is not None else None)
            entity.fill(session, form, scope)
            if row is not None:
                for locked in entity.locked_on_edit:
                    if locked in form:
                        form[locked].render_kw = {"readonly": True}
            if form.validate_on_submit():
                before = entity.snapshot(row) if row is not None else None
                try:
                    if row is not None:
                        for locked in entity.locked_on_edit:
                            if locked in form:  # an id is never renamed through a form
                                form[locked].data = entity.form_data(row).get(locked)
                    saved = entity.store(session, row, form.data)
                    secret = None
                    if row is None and entity.sip_device:
                        secret = sip_secrets.issue(saved, settings().sip_domain)
                    session.flush()  # the new row's relationships load only once flushed
                    if scope is not None and entity.service_of(saved) != scope:
                        raise FieldError(next(iter(form)).name, "hors de votre service")
                    plan.changed(
                        session,
                        "update" if row is not None else "create",
                        entity.name,
                        entity.key(saved),
                        before,
                        entity.snapshot(saved),
                        actor=me().login,
                    )
                    warnings = entity.warnings(session, saved)
                    named = entity.name_of(saved)
                    session.commit()
                except FieldError as exc:
                    session.rollback()
                    form.fail(form[exc.field], str(exc))
                except IntegrityError:
                    session.rollback()
                    form.fail(next(iter(form)), "conflit avec un élément existant")
                else:
                    flash(f"Enregistré : {entity.singular} « {named} ».", "success")
                    for warning in warnings:
                        flash(warning, "warning")
                    back = url_for(f"{bp.name}.crud_list", name=name)
                    if secret:
                        return show_once(
                            f"Secret SIP de {entity.key(saved)}", "Secret SIP", secret, back
                        )
                    return redirect(back)
            status = 400 if form.errors else 200
            title = entity.name_of(row) if row is not None else None
            return render_template(
                "crud_form.html", entity=entity, form=form, key=key, title=title, bp=bp.name
            ), status

    @bp.route("/<name>/new", methods=["GET", "POST"])
    def crud_new(name: str) -> Any:
        return save(name, None)

    @bp.route("/<name>/<key>/edit", methods=["GET", "POST"])
    def crud_edit(name: str, key: str) -> Any:
        return save(name, key)

    @bp.post("/<name>/<key>/delete")
    def crud_delete(name: str, key: str) -> Any:
        entity = entity_or_404(name)
        with db().sessions() as session:
            row = _get(session, entity, key, scope_of_user())
            before = entity.snapshot(row)
            named = entity.name_of(row)
            try:
                session.delete(row)
                session.flush()
                plan.changed(session, "delete", entity.name, key, before, None, actor=me().login)
                session.commit()
            except IntegrityError:
                session.rollback()
                flash(
                    f"Impossible de supprimer « {named} » : d'autres éléments y font "
                    "référence (supprimez-les d'abord).",
                    "error",
                )
                return redirect(url_for(f"{bp.name}.crud_list", name=name)), 303
        flash(f"Supprimé : {entity.singular} « {named} ».", "success")
        return redirect(url_for(f"{bp.name}.crud_list", name=name)), 303
