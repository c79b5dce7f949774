"""``pvp doctor``: is this deployment healthy, and if not, what should the site do?

Each check gives a :class:`Finding` with a French sentence for the site's staff (what is
wrong and what to do) and an English one for the logs. Checks: the switch answers on its
event socket, its certificates are valid for 30 more days, the control plane answers
mod_xml_curl with the credentials the switch uses (each control plane the switch asks), the
clocks of switch and control plane agree, the data directory has room, the database schema
is at the newest migration, one control plane leads the dispatcher, and Kamailio (when one
is configured) sees its switches (pvp/deploy/pool.py).
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from base64 import b64encode
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from sqlalchemy.exc import SQLAlchemyError

from pvp.common.errors import PvpError
from pvp.config import Settings
from pvp.db import make_engine
from pvp.deploy.backup import current_revision, head_revision
from pvp.deploy.findings import Finding
from pvp.deploy.findings import ok as _ok
from pvp.deploy.findings import problem as _problem
from pvp.deploy.pool import check_kamailio, check_leader
from pvp.freeswitch.certs import certs_dir
from pvp.freeswitch.esl import ESLError, FrameSocket

log = logging.getLogger("pvp.doctor")

CERT_MARGIN = timedelta(days=30)
CLOCK_TOLERANCE_SECONDS = 2.0
MIN_FREE_BYTES = 2 * 1024**3
MIN_FREE_FRACTION = 0.05


# ---- the switch -----------------------------------------------------------------------


class SwitchError(PvpError, OSError, code="switch_unreachable", summary="commutateur injoignable"):
    pass


def ask_switch(settings: Settings, commands: list[str], timeout: float = 3) -> list[str]:
    """Authenticate on the event socket and run ``api`` commands; their answers."""
    with socket.create_connection((settings.esl_host, settings.esl_port), timeout) as sock:
        link = FrameSocket(sock)
        try:
            link.authenticate(settings.secret("esl_password"))
            answers = []
            for command in commands:
                sock.sendall(f"api {command}\n\n".encode())
                answers.append(link.next().text)
        except ESLError as exc:
            raise SwitchError(str(exc)) from exc
        return answers


def check_switch(settings: Settings, now: Callable[[], float] = time.time) -> list[Finding]:
    """The switch answers on its event socket, and its clock agrees with ours."""
    where = f"{settings.esl_host}:{settings.esl_port}"
    try:
        before = now()
        status, epoch = ask_switch(settings, ["status", "strepoch"])
        after = now()
    except SwitchError as exc:
        return [
            _problem(
                "switch",
                f"Le commutateur FreeSWITCH ({where}) refuse la connexion de contrôle : vérifiez"
                " que esl_password dans /etc/pvp/pvp.toml est celui de FreeSWITCH"
                " (event_socket.conf.xml rendu par `pvp freeswitch render`).",
                f"switch event socket {where}: {exc}",
            ),
            _not_compared(),
        ]
    except OSError as exc:
        return [
            _problem(
                "switch",
                f"Le commutateur FreeSWITCH ne répond pas sur {where} : démarrez-le"
                " (`systemctl start pvp-freeswitch`) et consultez son journal"
                " (`journalctl -u pvp-freeswitch`).",
                f"switch event socket {where} unreachable: {exc}",
            ),
            _not_compared(),
        ]
    if "UP" not in status:
        found = _problem(
            "switch",
            "Le commutateur FreeSWITCH répond mais n'est pas prêt : attendez une minute puis"
            " relancez `pvp doctor` ; sinon redémarrez-le (`systemctl restart pvp-freeswitch`).",
            f"switch {where} not ready: {status.splitlines()[:1]}",
        )
    else:
        found = _ok("switch", "Commutateur FreeSWITCH joignable.", f"switch {where} up")
    return [found, _clock(epoch, before, after)]


def _not_compared() -> Finding:
    return _problem(
        "clock",
        "Horloges non comparées : le commutateur ne répond pas (voir ci-dessus).",
        "clock not compared: the switch does not answer",
    )


def _clock(epoch_text: str, before: float, after: float) -> Finding:
    try:
        switch_time = int(epoch_text.strip())
    except ValueError:
        return _problem(
            "clock",
            "Le commutateur n'a pas donné son heure : mettez FreeSWITCH à jour.",
            f"strepoch answered {epoch_text.strip()!r}",
        )
    # strepoch has whole seconds: the switch's clock is within [t, t+1) of our [before, after].
    skew = max(switch_time - after, before - (switch_time + 1), 0.0)
    if skew > CLOCK_TOLERANCE_SECONDS:
        return _problem(
            "clock",
            f"Les horloges du commutateur et du plan de contrôle diffèrent de {skew:.0f} s :"
            " synchronisez les deux machines sur un serveur NTP (`timedatectl set-ntp true`,"
            " paquet systemd-timesyncd ou chrony). Les rendez-vous et les temps d'attente en"
            " dépendent.",
            f"clock skew {skew:.1f} s between switch and control plane",
        )
    return _ok("clock", "Horloges synchronisées.", f"clock skew under {CLOCK_TOLERANCE_SECONDS} s")


# ---- certificates ---------------------------------------------------------------------


def check_certificates(settings: Settings, now: datetime | None = None) -> list[Finding]:
    """Each certificate file of the switch (and the kiosks' CA) valid for 30 more days."""
    now = now or datetime.now(UTC)
    directory = certs_dir(settings)
    files = [directory / "agent.pem"]
    files += [p for p in (directory / "wss.pem", directory / "cafile.pem") if p.exists()]
    if settings.ca_file:
        files.append(Path(settings.ca_file))
    return [_certificate(path, now) for path in files]


def _certificate(path: Path, now: datetime) -> Finding:
    check = f"certificate {path.name}"
    renew = (
        " Renouvelez-le (certbot ou l'autorité de la région, voir docs/deployment.md) puis"
        " lancez `pvp deploy reload-certs` : les appels et inscriptions en cours sont gardés."
    )
    try:
        with warnings.catch_warnings():
            # FreeSWITCH's self-made wss.pem has serial 0, which cryptography warns about.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certs = x509.load_pem_x509_certificates(path.read_bytes())
    except FileNotFoundError:
        return _problem(
            check,
            f"Certificat {path} absent : installez le certificat TLS du commutateur.{renew}",
            f"{path}: missing",
        )
    except ValueError as exc:
        return _problem(
            check,
            f"Certificat {path} illisible (pas un fichier PEM) : réinstallez-le.{renew}",
            f"{path}: not a PEM certificate ({exc})",
        )
    leaf = certs[0]
    until = leaf.not_valid_after_utc
    subject = leaf.subject.rfc4514_string()
    if leaf.not_valid_before_utc > now:
        return _problem(
            check,
            f"Le certificat {path} ({subject}) n'est pas encore valide : vérifiez l'heure de la"
            " machine.",
            f"{path} ({subject}) not valid before {leaf.not_valid_before_utc.isoformat()}",
        )
    if until <= now:
        return _problem(
            check,
            f"Le certificat {path} ({subject}) a expiré le {until:%d/%m/%Y} : les bornes ne"
            f" peuvent plus se connecter.{renew}",
            f"{path} ({subject}) expired {until.isoformat()}",
        )
    if until - now < CERT_MARGIN:
        days = (until - now).days
        return _problem(
            check,
            f"Le certificat {path} ({subject}) expire dans {days} jours ({until:%d/%m/%Y}).{renew}",
            f"{path} ({subject}) expires in {days} days ({until.isoformat()})",
        )
    return _ok(
        check,
        f"Certificat {path.name} valide jusqu'au {until:%d/%m/%Y}.",
        f"{path} valid until {until.isoformat()}",
    )


# ---- the control plane's xml_curl ------------------------------------------------------


def check_xml_curl(settings: Settings, base: str | None = None, timeout: float = 3) -> Finding:
    """The directory answers the switch's own request, with the switch's credentials, at
    ``base`` (a control plane's URL; this one's by default)."""
    url = (base or settings.base_url()).rstrip("/") + "/freeswitch/directory"
    body = urllib.parse.urlencode({"section": "directory", "domain": settings.sip_domain})
    credentials = f"{settings.xml_curl_user}:{settings.secret('xml_curl_password')}"
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    request.add_header("Authorization", "Basic " + b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return _problem(
                "xml_curl",
                "Le plan de contrôle refuse les identifiants xml_curl du commutateur :"
                " régénérez la configuration de FreeSWITCH (`pvp freeswitch render`) avec le"
                " même /etc/pvp/pvp.toml puis `systemctl reload-or-restart pvp-freeswitch`.",
                f"xml_curl {url}: 401 with the configured credentials",
            )
        return _problem(
            "xml_curl",
            f"Le plan de contrôle répond en erreur ({exc.code}) : consultez"
            " `journalctl -u pvp-control`.",
            f"xml_curl {url}: HTTP {exc.code}",
        )
    except OSError as exc:
        return _problem(
            "xml_curl",
            f"Le plan de contrôle ne répond pas sur {url} : démarrez-le"
            " (`systemctl start pvp-control`). Sans lui, les bornes n'appellent que par le"
            " plan de secours.",
            f"xml_curl {url} unreachable: {exc}",
        )
    if f'name="{settings.sip_domain}"' not in text:
        return _problem(
            "xml_curl",
            f"Le plan de contrôle ne connaît pas le domaine SIP {settings.sip_domain} :"
            " vérifiez sip_domain dans /etc/pvp/pvp.toml.",
            f"xml_curl {url}: no domain {settings.sip_domain} in the answer",
        )
    where = url.removesuffix("/freeswitch/directory")
    return _ok(
        "xml_curl", f"Le plan de contrôle {where} répond au commutateur.", f"xml_curl {url} ok"
    )


# ---- disk and database -----------------------------------------------------------------


def check_disk(
    settings: Settings, min_free: int = MIN_FREE_BYTES, min_fraction: float = MIN_FREE_FRACTION
) -> Finding:
    path = settings.data_dir if settings.data_dir.exists() else Path("/")
    usage = shutil.disk_usage(path)
    free_gib = usage.free / 1024**3
    if usage.free < min_free or usage.free < usage.total * min_fraction:
        return _problem(
            "disk",
            f"Il reste {free_gib:.1f} Gio sur le disque de {path} : libérez de la place"
            " (anciens journaux, sauvegardes déjà copiées ailleurs) ; les documents et les"
            " enregistrements ne pourront bientôt plus être gardés.",
            f"disk {path}: {free_gib:.2f} GiB free of {usage.total / 1024**3:.1f}",
        )
    return _ok("disk", f"Disque : {free_gib:.1f} Gio libres.", f"disk {path}: {free_gib:.1f} GiB")


def check_database(settings: Settings) -> Finding:
    url = settings.resolved_database_url()
    engine = make_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    if engine.dialect.name == "sqlite" and not Path(engine.url.database or "").is_file():
        # Connecting would create an empty file: say it is missing instead.
        return _problem(
            "database",
            f"La base de données {engine.url.database} n'existe pas : vérifiez data_dir et"
            " database_url dans /etc/pvp/pvp.toml, ou restaurez une sauvegarde"
            " (`pvp backup restore`).",
            f"database {shown}: no such file",
        )
    try:
        with engine.connect() as conn:
            current = current_revision(conn)
        head = head_revision(engine)
    except SQLAlchemyError as exc:
        return _problem(
            "database",
            f"La base de données ({shown}) ne répond pas : vérifiez que PostgreSQL tourne"
            " (`systemctl status postgresql`) et database_url dans /etc/pvp/pvp.toml.",
            f"database {shown} unreachable: {exc.__class__.__name__}: {exc}".splitlines()[0],
        )
    finally:
        engine.dispose()
    if current != head:
        return _problem(
            "database",
            f"La base de données est à la révision {current or 'aucune'}, le logiciel attend"
            f" {head} : faites une sauvegarde (`pvp backup create`) puis redémarrez le plan de"
            " contrôle (`systemctl restart pvp-control`), qui la met à jour.",
            f"database {shown} at revision {current}, head is {head}",
        )
    return _ok("database", "Base de données à jour.", f"database {shown} at head {head}")


def examine(settings: Settings) -> list[Finding]:
    """Every check, in the order a site fixes things."""
    findings = [check_database(settings), check_disk(settings)]
    findings += check_switch(settings)
    findings += [check_xml_curl(settings, url) for url in settings.control_planes()]
    findings.append(check_leader(settings))
    findings += check_kamailio(settings)
    findings += check_certificates(settings)
    for finding in findings:
        (log.info if finding.ok else log.error)("%s: %s", finding.check, finding.english)
    return findings
