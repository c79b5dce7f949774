"""The one place of PVP configuration: every address, port, secret and path.

Values come from the environment (``PVP_*``), then an optional TOML file named by
``PVP_CONFIG``, then the defaults below, so the same files serve a test on 127.0.0.1
and a real site.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The one place naming a zone: everything else reads Settings.timezone (or, on a kiosk PC,
# the bundle's copy of it).
DEFAULT_TIMEZONE = "Europe/Paris"


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "pvp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PVP_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""  # empty: a SQLite file in data_dir
    http_host: str = "127.0.0.1"
    http_port: int = 8470
    timezone: str = DEFAULT_TIMEZONE  # the deployment's wall clock (IANA name)
    # The deployment's single SIP domain: digest realm of every a1-hash.
    sip_domain: str = "pvp.auvergne.local"
    # Minutes around an appointment's start during which a press counts as that citizen.
    checkin_before_minutes: int = 15
    checkin_after_minutes: int = 20
    # How FreeSWITCH and kiosks reach the control plane (default: http://http_host:http_port).
    public_url: str = ""
    # The control planes FreeSWITCH asks for its directory and dialplan (xml_curl), in order,
    # comma-separated: with several over one PostgreSQL, a dead one is passed over for the
    # next (docs/deployment.md). Empty: this control plane only (public_url). `pvp doctor`
    # checks each of them.
    control_plane_urls: str = ""
    # Kamailio in front of a FreeSWITCH pool (`pvp deploy kamailio --ctl-socket`): its control
    # socket, where `pvp doctor` asks for the dispatcher set. Empty: no Kamailio.
    kamailio_ctl_socket: str = ""

    # The CA certificate kiosks check the switch's TLS certificate against (goes into bundles).
    ca_file: str = ""
    # The number a citizen calls when a kiosk is out of order, if its site names none.
    support_phone: str = ""

    # FreeSWITCH: where it is, where it listens, how PVP talks to it.
    freeswitch_bin: str = ""  # empty: PVP_FREESWITCH_BIN, PATH, /opt/freeswitch/bin/freeswitch
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060  # UDP and TCP
    sip_tls_port: int = 5061
    # WebRTC: the kiosk page (and browser consoles) reach the switch by SIP over secure
    # WebSocket; the switch's certificate is certs/wss.pem. Plain WS stays off (0) outside a lab:
    # it would carry the DTLS fingerprints, hence the media keys, unauthenticated.
    sip_wss_port: int = 7443
    # Where counsellors' browser consoles reach that WebSocket (empty: wss://sip_host:port).
    console_wss_url: str = ""
    sip_ws_port: int = 0
    # Networks whose ICE candidates the switch accepts from browsers (apply-candidate-acl): the
    # kiosks' and counsellors' networks, comma-separated CIDRs.
    webrtc_networks: str = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8"
    rtp_start_port: int = 16384
    rtp_end_port: int = 32768
    kiosk_srtp: Literal["mandatory", "optional"] = "mandatory"
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    esl_password: str = ""  # empty: a random one kept in data_dir/secrets.json
    # A FreeSWITCH pool behind Kamailio (docs/deployment.md): Kamailio's HOST:PORT, whose
    # authentication the switches trust (`pvp freeswitch render --behind-proxy`), and every
    # pool switch's event socket, comma-separated HOST:PORT. Empty: one switch at esl_host.
    sip_proxy: str = ""
    esl_switches: str = ""
    xml_curl_user: str = "freeswitch"
    xml_curl_password: str = ""  # empty: a random one kept in data_dir/secrets.json
    # Master secret of the kiosks' command keys (pvp/wire/messages.py: seals); every control plane
    # of a deployment needs the same. Empty: a random one kept in data_dir/secrets.json.
    kiosk_command_key: str = ""
    # An address failing SIP authentication this often within the window is refused for
    # sip_block_seconds (pvp/freeswitch/authguard.py); the supervision page shows it.
    sip_block_failures: int = 10
    sip_block_window_seconds: int = 60
    sip_block_seconds: int = 900
    xml_curl_timeout_seconds: int = 2
    counsellor_srtp: Literal["mandatory", "optional"] = "optional"
    # How long FreeSWITCH may keep a directory entry (a rotated secret waits this long).
    directory_cache_ms: int = 30000
    # What a parked caller hears while the dispatcher looks for a counsellor.
    wait_media: str = "tone_stream://%(250,4750,523);loops=-1"
    # How far ahead the static fallback lists dated conditions (holidays, closures).
    static_horizon_days: int = 730
    freeswitch_loglevel: str = "info"
    # `pvp serve` starts FreeSWITCH as its child: "auto" where a binary is found (and no
    # switch already answers on esl_port), "on" always (an error if it cannot), "off" never
    # (a site running FreeSWITCH as its own service).
    run_freeswitch: Literal["auto", "on", "off"] = "auto"
    # The rendered FreeSWITCH configuration (`pvp freeswitch render --out`). When set, `pvp
    # serve` renders its static directory and dialplan again on every plan change and tells
    # FreeSWITCH (reloadxml, xml_flush_cache). Empty with run_freeswitch: data_dir/freeswitch/conf.
    freeswitch_conf_dir: str = ""
    # TLS certificates of the switch (agent.pem, cafile.pem). Empty when `pvp serve` runs
    # FreeSWITCH: data_dir/freeswitch/certs, with self-signed demo certificates made if absent.
    freeswitch_certs_dir: str = ""
    # How often `pvp serve` checks the plan revision for the static fallback, seconds.
    fallback_check_seconds: float = 2.0
    # TEST ONLY: the control plane's clock starts at this instant (ISO 8601, local time when
    # no offset) and runs on from there. FreeSWITCH's own clock is never faked. Keep empty.
    fake_now: str = ""

    # The panel (pvp/panel): session signing key, cookies, login throttling.
    panel_secret_key: str = ""  # empty: a random one kept in data_dir/secrets.json
    # Secure cookies need HTTPS; only a test on plain http://127.0.0.1 turns this off.
    session_cookie_secure: bool = True
    session_hours: int = 8
    # Per login *from one address* (so nobody elsewhere can lock a person out), and four
    # times that per address, within the window below.
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # How many reverse proxies (setting X-Forwarded-For/-Proto) stand before the control
    # plane. 0 (default): the headers are ignored, the socket's peer is the client address.
    trusted_proxies: int = Field(default=0, ge=0, le=5)
    # Supervision: when a kiosk counts as offline, and how long before a problem alerts.
    heartbeat_offline_seconds: int = 90
    alert_offline_minutes: int = 5
    alert_paper_minutes: int = 10
    alert_check_seconds: int = 30  # how often `pvp serve` looks for alerts
    # Where alert e-mails go out (empty host: alerts are only listed in the panel).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "pvp@localhost"
    smtp_timeout_seconds: int = 10
    # Citizens convoked to appointments (docs/convocations.md): e-mails checked this often,
    # contact details forgotten this many days after the appointment.
    convocation_check_seconds: int = 300
    convocation_retention_days: int = 90

    # Documents (pvp/documents): see docs/documents.md for the figures behind these numbers.
    document_retention_days: int = 30  # then the files are purged; the audit rows stay
    # Largest encoded command (JSON body of the SIP MESSAGE) that carries its document inline;
    # above it the document goes by reference. Measured through FreeSWITCH's `chat` over TLS
    # and TCP (docs/documents.md): 8 MiB bodies arrive intact, 12 MiB do not, and each MiB
    # holds the `chat` call ~1.35 s. 256 KiB: 32x under the largest intact body, 8x under the
    # codec's 2 MiB cap, and under half a second of `chat`; typical forms still go inline.
    document_inline_max_bytes: int = 256 * 1024
    document_max_bytes: int = 32 * 1024 * 1024  # a 10-page noisy lossless scan fits
    document_max_pages: int = 100
    document_link_seconds: int = 300  # lifetime of a single-use download link
    # Which switch path reaches fax numbers (a sofia gateway or profile), e.g.
    # "sofia/gateway/fax-out/" (the number is appended).
    fax_dial_prefix: str = ""
    # The deployment's document-signing key (docs/signing.md): signing-key.pem, signing-cert.pem
    # and, when issued by a CA, ca-chain.pem. Empty: data_dir/signing. Rotation: a new directory.
    signing_dir: Path | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The deployment's time zone, which every wall-clock time is read and shown in."""
        return ZoneInfo(self.timezone)

    def base_url(self) -> str:
        return self.public_url or f"http://{self.http_host}:{self.http_port}"

    def control_planes(self) -> list[str]:
        """The control planes' base URLs, in the order FreeSWITCH tries them."""
        urls = [u.strip().rstrip("/") for u in self.control_plane_urls.split(",") if u.strip()]
        return urls or [self.base_url().rstrip("/")]

    def secret(self, name: str) -> str:
        """A configured secret, or one generated once and kept (mode 0600) in the data dir."""
        configured = getattr(self, name, "")
        if configured:
            return str(configured)
        path = self.data_dir / "secrets.json"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        stored = json.loads(path.read_text()) if path.exists() else {}
        if name not in stored:
            stored[name] = secrets.token_urlsafe(24)
            path.touch(mode=0o600, exist_ok=True)
            path.write_text(json.dumps(stored, indent=2))
        return str(stored[name])

    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    def resolved_signing_dir(self) -> Path:
        return self.signing_dir or self.data_dir / "signing"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'pvp.sqlite3'}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and the optional ``PVP_CONFIG`` TOML file."""
    file_values: dict[str, Any] = {}
    path = os.environ.get("PVP_CONFIG")
    if path:
        with open(path, "rb") as fh:
            file_values = tomllib.load(fh).get("pvp", {})
    env_keys = {k[4:].lower() for k in os.environ if k.startswith("PVP_")}
    merged = {k: v for k, v in file_values.items() if k not in env_keys}
    merged.update(overrides)
    return Settings(**merged)
