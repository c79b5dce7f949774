"""``pvp doctor``'s checks of a pool: one dispatcher leader among the control planes, and
Kamailio's dispatcher set of switches.

The leader is whoever holds the dispatcher's PostgreSQL advisory lock (pvp/deploy/leader.py);
asking the database, not the control planes, tells the truth even when a control plane is
hung. Kamailio is asked through its control socket (``kamcmd dispatcher.list``), which shows
the health its OPTIONS probes keep for each switch.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from pvp.config import Settings
from pvp.db import make_engine
from pvp.deploy.findings import Finding, ok, problem
from pvp.deploy.leader import LEASE_APPLICATION, lease_holders

KAMCMD = "/usr/sbin/kamcmd"


def check_leader(settings: Settings) -> Finding:
    """Exactly one control plane holds the dispatcher's lease."""
    engine = make_engine(settings.resolved_database_url())
    try:
        if engine.dialect.name != "postgresql":
            return ok(
                "leader",
                "Un seul plan de contrôle (base SQLite) : il répartit les appels.",
                "SQLite: the single control plane is the dispatcher",
            )
        with engine.connect() as conn:
            holders = lease_holders(conn)
    except SQLAlchemyError as exc:
        return problem(
            "leader",
            "Impossible de savoir quel plan de contrôle répartit les appels : la base de"
            " données ne répond pas (voir ci-dessus).",
            f"leader unknown: {exc.__class__.__name__}: {exc}".splitlines()[0],
        )
    finally:
        engine.dispose()
    if not holders:
        return problem(
            "leader",
            "Aucun plan de contrôle ne répartit les appels des files d'attente : les citoyens"
            " attendent sans être servis. Démarrez-en un (`systemctl start pvp-control`) et"
            " consultez `journalctl -u pvp-control` sur chaque machine.",
            "no dispatcher leader: nobody holds the lease",
        )
    holder = holders[0]
    if len(holders) > 1 or not holder.application.startswith(LEASE_APPLICATION):
        shown = ", ".join(f"{h.application or '?'} ({h.client}, pid {h.pid})" for h in holders)
        return problem(
            "leader",
            f"Le verrou du répartiteur est tenu par autre chose qu'un plan de contrôle ({shown})"
            " : arrêtez ce programme, aucun plan de contrôle ne peut répartir les appels.",
            f"dispatcher lease held by {shown}",
        )
    where = holder.application.removeprefix(LEASE_APPLICATION).strip()
    return ok(
        "leader",
        f"Un seul plan de contrôle répartit les appels ({where}, depuis {holder.client}).",
        f"dispatcher leader: {where} from {holder.client}, backend pid {holder.pid}",
    )


def dispatcher_set(listing: str) -> dict[str, str]:
    """``kamcmd dispatcher.list``'s answer: each destination's URI and flags (AP: active and
    probed, IP: inactive and probed, ...)."""
    found: dict[str, str] = {}
    uri = ""
    for line in listing.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "URI":
            uri = value.strip()
        elif key == "FLAGS" and uri:
            found[uri] = value.strip()
    return found


def check_kamailio(settings: Settings, timeout: float = 5) -> list[Finding]:
    """Kamailio answers on its control socket and every switch of its set is active."""
    if not settings.kamailio_ctl_socket:
        return []
    socket_path = settings.kamailio_ctl_socket.removeprefix("unix:")
    kamcmd = shutil.which("kamcmd") or KAMCMD
    command = [kamcmd, "-s", f"unix:{socket_path}", "dispatcher.list"]
    listing, error = None, "no socket"
    if Path(socket_path).exists():
        try:
            answer = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            error = str(exc)
        else:
            listing, error = (
                (answer.stdout, "") if answer.returncode == 0 else (None, answer.stderr)
            )
    if listing is None:
        return [
            problem(
                "kamailio",
                f"Kamailio ne répond pas sur son socket de contrôle {socket_path} : vérifiez"
                " qu'il tourne (`systemctl status kamailio`) et kamailio_ctl_socket dans"
                " /etc/pvp/pvp.toml. Sans lui, ni borne ni conseiller ne peut s'inscrire.",
                f"kamailio {socket_path}: dispatcher.list failed: {error.strip()}",
            )
        ]
    switches = dispatcher_set(listing)
    if not switches:
        return [
            problem(
                "kamailio",
                "Kamailio ne connaît aucun commutateur FreeSWITCH : rendez sa configuration"
                " (`pvp deploy kamailio --switch ...`) puis `kamcmd dispatcher.reload`.",
                f"kamailio {socket_path}: empty dispatcher set",
            )
        ]
    down = sorted(uri for uri, flags in switches.items() if not flags.startswith("A"))
    if down:
        left = len(switches) - len(down)
        return [
            problem(
                "kamailio",
                f"Kamailio ne joint plus {len(down)} commutateur(s) sur {len(switches)}"
                f" ({', '.join(down)}) : les appels passent par les {left} autre(s)."
                " Démarrez-les (`systemctl start pvp-freeswitch` sur leur machine) et"
                " consultez leur journal.",
                f"kamailio: inactive switches {down} of {len(switches)}",
            )
        ]
    return [
        ok(
            "kamailio",
            f"Kamailio répartit les appels sur {len(switches)} commutateur(s), tous actifs.",
            f"kamailio: {len(switches)} switches active ({', '.join(sorted(switches))})",
        )
    ]
