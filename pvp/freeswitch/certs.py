"""A self-signed CA and a server certificate for FreeSWITCH's TLS (tests, demo sites).

FreeSWITCH (sofia-sip) reads ``agent.pem`` (private key then certificate chain) and
``cafile.pem`` (the CA) from its certificates directory, and ``wss.pem`` (the same kind of
file) for its secure WebSocket binding. A real site installs certificates
from its own PKI there instead.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pvp.certificates import certificate, pem_private_key
from pvp.config import Settings

VALIDITY = timedelta(days=365)
CA_FILE = "cafile.pem"


def certs_dir(settings: Settings) -> Path:
    """Where the switch's certificates are: a site's own, or ``pvp serve``'s demo ones."""
    return Path(settings.freeswitch_certs_dir or settings.data_dir / "freeswitch" / "certs")


def write_demo_certs(settings: Settings) -> Path:
    """The demo CA and switch certificate in :func:`certs_dir`, made once; the CA's path."""
    directory = certs_dir(settings)
    if not all((directory / name).exists() for name in ("agent.pem", "wss.pem")):
        write_test_certs(directory, [settings.sip_host, settings.sip_domain])
    return directory / CA_FILE


def kiosk_ca(settings: Settings) -> Path:
    """The CA a kiosk must trust for the switch's TLS: ``ca_file``, else the switch's own.

    FileNotFoundError (saying how to get one) when there is none: a bundle without it would
    give a kiosk that can never verify the switch.
    """
    if settings.ca_file:
        if not Path(settings.ca_file).is_file():
            raise FileNotFoundError(
                f"le fichier CA {settings.ca_file} (ca_file) est introuvable"
                f" / CA file {settings.ca_file} (ca_file) not found"
            )
        return Path(settings.ca_file)
    found = certs_dir(settings) / CA_FILE
    if found.is_file():
        return found
    raise FileNotFoundError(
        "aucune autorité de certification (CA) à mettre dans le bundle : réglez ca_file"
        " (PVP_CA_FILE) sur celle du certificat TLS du commutateur, ou créez la CA de"
        f" démonstration avec `pvp freeswitch demo-certs` (dans {certs_dir(settings)})"
        " / no CA for the bundle: set ca_file (PVP_CA_FILE) to the switch certificate's CA,"
        " or create the demo CA with `pvp freeswitch demo-certs`"
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Point Visio Public"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def write_test_certs(directory: Path, hosts: list[str]) -> Path:
    """Write ``cafile.pem``, ``agent.pem`` and ``wss.pem`` for ``hosts``; the CA's path."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("PVP test CA")
    ca = (
        certificate(ca_name, ca_name, ca_key.public_key(), now, now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        certificate(_name(hosts[0]), ca_name, key.public_key(), now, now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (directory / CA_FILE).write_bytes(ca_pem)
    chain = pem_private_key(key) + cert.public_bytes(serialization.Encoding.PEM) + ca_pem
    for name in ("agent.pem", "wss.pem"):
        path = directory / name
        path.touch(mode=0o600, exist_ok=True)
        path.write_bytes(chain)
    return directory / CA_FILE
