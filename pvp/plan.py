"""The deployment plan file (YAML): its schema, and every check made before anything is written.

A plan names departments, services, agencies (with expert stations and queues), counsellors,
sites (with kiosks, buttons, routes and opening windows) and closures. Any entry may carry an
``assumption`` text: the plan says where it departs from, or fills a gap in, the source.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pvp.calendar import Mode, Window, weekday_number
from pvp.common.errors import PvpError
from pvp.wire.identities import SERVICE_CODES, reserved_reason
from pvp.yamlload import YamlError, load_yaml

__all__ = ["IDENT", "SERVICE_CODES", "Plan", "PlanError", "kiosk_id", "load_plan", "parse_plan"]

IDENT = r"^[a-z0-9][a-z0-9.\-]{0,62}$"  # also a valid SIP user part


class PlanError(PvpError, ValueError, code="plan_refused"):
    """A plan that must not be imported; ``problems`` names each entry and field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {p}" for p in self.problems)


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    assumption: str | None = None


class DepartmentPlan(Entry):
    code: str = Field(pattern=r"^(\d{2}|2A|2B|\d{3})$")
    name: str = Field(min_length=1)


class ServicePlan(Entry):
    code: Literal["anpe", "caf", "msa", "urssaf", "cram", "udaf"]
    name: str = Field(min_length=1)
    default_mode: Mode


class QueuePlan(Entry):
    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    strategy: Literal["longest_idle", "round_robin"] = "longest_idle"
    max_wait_seconds: int = Field(default=900, gt=0, le=4 * 3600)
    no_answer_timeout_seconds: int = Field(default=20, ge=5, le=300)
    wrap_up_seconds: int = Field(default=60, ge=0, le=3600)


class AgencyPlan(Entry):
    id: str = Field(pattern=IDENT)
    service: str
    name: str = Field(min_length=1)
    town: str = Field(min_length=1)
    department: str
    pilot: bool = False
    stations: list[str] = Field(default_factory=list)
    queues: list[QueuePlan] = Field(min_length=1)

    @field_validator("stations")
    @classmethod
    def _station_ids(cls, value: list[str]) -> list[str]:
        for station in value:
            if not re.match(IDENT, station):
                raise ValueError(f"station id {station!r} must match {IDENT}")
        return value


class MembershipPlan(Entry):
    queue: str
    priority: int = Field(default=1, ge=1, le=9)


class CounsellorPlan(Entry):
    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    agency: str
    station: str | None = None
    queues: list[MembershipPlan] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if reason := reserved_reason(value):
            raise ValueError(reason)
        return value


class WindowPlan(Entry):
    mode: Mode
    days: list[str] = Field(min_length=1)
    nth: list[int] = Field(default_factory=list)
    start: time = Field(alias="from")
    end: time = Field(alias="to")
    valid_from: date | None = None
    valid_until: date | None = None
    except_dates: list[date] = Field(default_factory=list, alias="except")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        for day in value:
            weekday_number(day)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WindowPlan:
        self.to_window()  # the calendar's own checks: end after start, nth range, dates
        return self

    def to_window(self) -> Window:
        return Window(
            mode=self.mode,
            weekdays=frozenset(weekday_number(d) for d in self.days),
            start=self.start,
            end=self.end,
            nth=frozenset(self.nth),
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            except_dates=frozenset(self.except_dates),
        )


class RoutePlan(Entry):
    queue: str
    windows: list[WindowPlan] = Field(default_factory=list)


class SitePlan(Entry):
    id: str = Field(pattern=IDENT)
    department: str
    community: str = Field(min_length=1)
    commune: str = Field(min_length=1)
    host_place: str = ""
    agent_phone: str = ""
    agent_email: str = ""
    pilot: bool = False
    kiosks: int = Field(default=1, ge=1, le=9)
    services: list[str] = Field(min_length=1)
    routes: dict[str, RoutePlan] = Field(default_factory=dict)


class ClosurePlan(Entry):
    site: str | None = None
    service: str | None = None
    first_day: date = Field(alias="from")
    last_day: date = Field(alias="to")
    reason: str = Field(min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> ClosurePlan:
        if self.first_day > self.last_day:
            raise ValueError("'from' is after 'to'")
        return self


class Plan(Entry):
    name: str = ""
    departments: list[DepartmentPlan] = Field(min_length=1)
    services: list[ServicePlan] = Field(min_length=1)
    agencies: list[AgencyPlan] = Field(default_factory=list)
    counsellors: list[CounsellorPlan] = Field(default_factory=list)
    sites: list[SitePlan] = Field(default_factory=list)
    closures: list[ClosurePlan] = Field(default_factory=list)

    def queues(self) -> dict[str, tuple[AgencyPlan, QueuePlan]]:
        return {q.id: (a, q) for a in self.agencies for q in a.queues}

    def kiosk_ids(self) -> list[str]:
        return [kiosk_id(s.id, n) for s in self.sites for n in range(1, s.kiosks + 1)]


def kiosk_id(site: str, number: int) -> str:
    return f"kiosk-{site}-{number}"


def _duplicates(kind: str, ids: list[str]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, ident in enumerate(ids):
        if ident in seen:
            problems.append(f"{kind}[{i}] (id={ident}): id: duplicate id {ident!r}")
        seen.add(ident)
    return problems


def cross_check(plan: Plan) -> list[str]:
    """The references between entries: every name used is defined, and defined once."""
    problems: list[str] = []
    departments = {d.code for d in plan.departments}
    services = {s.code for s in plan.services}
    queues = plan.queues()
    stations = {st: a.id for a in plan.agencies for st in a.stations}
    problems += _duplicates("departments", [d.code for d in plan.departments])
    problems += _duplicates("services", [s.code for s in plan.services])
    problems += _duplicates("agencies", [a.id for a in plan.agencies])
    problems += _duplicates("queues", [q.id for a in plan.agencies for q in a.queues])
    problems += _duplicates("stations", [st for a in plan.agencies for st in a.stations])
    problems += _duplicates("sites", [s.id for s in plan.sites])
    # Kiosks and counsellors share the SIP user namespace of the domain.
    problems += _duplicates("sip users", plan.kiosk_ids() + [c.id for c in plan.counsellors])

    for i, a in enumerate(plan.agencies):
        where = f"agencies[{i}] (id={a.id})"
        if a.service not in services:
            problems.append(f"{where}: service: unknown service {a.service!r}")
        if a.department not in departments:
            problems.append(f"{where}: department: unknown department {a.department!r}")
    for i, c in enumerate(plan.counsellors):
        where = f"counsellors[{i}] (id={c.id})"
        agency = next((a for a in plan.agencies if a.id == c.agency), None)
        if agency is None:
            problems.append(f"{where}: agency: unknown agency {c.agency!r}")
        if c.station is not None and stations.get(c.station) != c.agency:
            problems.append(f"{where}: station: {c.station!r} is not a station of {c.agency!r}")
        for j, m in enumerate(c.queues):
            if m.queue not in queues:
                problems.append(f"{where}: queues[{j}].queue: unknown queue {m.queue!r}")
            elif agency and queues[m.queue][0].service != agency.service:
                problems.append(
                    f"{where}: queues[{j}].queue: {m.queue!r} belongs to another service"
                )
    for i, s in enumerate(plan.sites):
        where = f"sites[{i}] (id={s.id})"
        if s.department not in departments:
            problems.append(f"{where}: department: unknown department {s.department!r}")
        for code in s.services:
            if code not in services:
                problems.append(f"{where}: services: unknown service {code!r}")
        if len(set(s.services)) != len(s.services):
            problems.append(f"{where}: services: a service button is listed twice")
        for code, route in s.routes.items():
            if code not in s.services:
                problems.append(f"{where}: routes.{code}: the kiosk has no {code!r} button")
            if route.queue not in queues:
                problems.append(f"{where}: routes.{code}.queue: unknown queue {route.queue!r}")
            elif queues[route.queue][0].service != code:
                problems.append(
                    f"{where}: routes.{code}.queue: {route.queue!r} is a queue of another service"
                )
    sites = {s.id for s in plan.sites}
    for i, cl in enumerate(plan.closures):
        where = f"closures[{i}]"
        if cl.site is not None and cl.site not in sites:
            problems.append(f"{where}: site: unknown site {cl.site!r}")
        if cl.service is not None and cl.service not in services:
            problems.append(f"{where}: service: unknown service {cl.service!r}")
    return problems


def _describe(raw: Any, loc: tuple[int | str, ...]) -> str:
    """``sites[3] (id=vorey): routes.msa.windows[0].nth`` from a pydantic location."""
    parts: list[str] = []
    node = raw
    label = ""
    for k, step in enumerate(loc):
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
        else:
            parts.append(str(step))
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = None
        if k == 1 and isinstance(node, dict):
            ident = node.get("id") or node.get("code")
            label = f" (id={ident})" if ident else ""
            head = ".".join(parts)
            rest = loc[2:]
            tail = _path(rest)
            return f"{head}{label}: {tail}" if tail else f"{head}{label}"
    return ".".join(parts)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def parse_plan(raw: Any, source: str) -> Plan:
    """Validate a loaded YAML document: schema first, then cross references."""
    if not isinstance(raw, dict):
        raise PlanError(source, ["the plan must be a mapping with departments, services, ..."])
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{_describe(raw, tuple(e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
        ]
        raise PlanError(source, problems) from None
    problems = cross_check(plan)
    if problems:
        raise PlanError(source, problems)
    return plan


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_plan_text(text, str(path))


def parse_plan_text(text: str, source: str) -> Plan:
    """A plan from YAML text: bounded (no alias bomb, no repeated key), then validated."""
    try:
        raw = load_yaml(text)
    except YamlError as exc:
        raise PlanError(source, [str(exc)]) from None
    return parse_plan(raw, source)
