"""Kamailio in front of a pool of FreeSWITCH: registrar, digest auth from PVP's database,
and calls spread over the pool by the dispatcher module with OPTIONS health probing.

Kiosks and counsellors register with Kamailio using the credentials PVP issued (the
``sip_subscribers`` view gives Kamailio's auth_db each device's a1-hash); each REGISTER is
then replicated to every switch with a Path through Kamailio, so any switch can ring any
device. A device's request goes, with Kamailio's word on who sent it (``X-PVP-Identity``,
see :mod:`pvp.freeswitch.pool`), to a switch of the pool chosen by Call-ID hash, and to the
next one when a switch fails or stops answering the probes; a request coming from a switch
of the pool goes to the device along that Path, or wherever the device registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from pvp.common.fsutil import write_atomically
from pvp.freeswitch.pool import IDENTITY_HEADER
from pvp.wire.identities import CONTROL_PLANE_USER

POOL_SET = 1
PROBE_REPLIES = "class=2;code=401;code=403;code=404;code=405;code=407"


@dataclass(frozen=True)
class KamailioSite:
    listen_host: str
    listen_port: int
    sip_domain: str
    database_url: str  # PVP's (SQLAlchemy) PostgreSQL URL
    switches: list[tuple[str, int]]
    ctl_socket: Path
    probe_seconds: int = 2


def kamailio_db_url(url: str) -> str:
    """``postgresql+psycopg://u:p@h:port/db`` as Kamailio's ``postgres://u:p@h:port/db``."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"Kamailio needs PVP's PostgreSQL database, not {parsed.drivername}")
    auth = parsed.username or ""
    if parsed.password:
        auth += f":{parsed.password}"
    host = f"{parsed.host or '127.0.0.1'}:{parsed.port or 5432}"
    return f"postgres://{auth}@{host}/{parsed.database}"


def dispatcher_list(site: KamailioSite) -> str:
    return "".join(f"{POOL_SET} sip:{host}:{port}\n" for host, port in site.switches)


def kamailio_cfg(site: KamailioSite, list_file: Path) -> str:
    first, *others = (f"sip:{host}:{port}" for host, port in site.switches)
    replicas = f'        $ru = "{first}";\n' + "".join(
        f'        append_branch("{uri}");\n' for uri in others
    )
    return f"""#!KAMAILIO
# Rendered by PVP (pvp/deploy/kamailio.py).
listen=udp:{site.listen_host}:{site.listen_port}
listen=tcp:{site.listen_host}:{site.listen_port}
alias="{site.sip_domain}"
children=2
tcp_children=2
log_stderror=yes
debug=2

loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "db_postgres.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "dispatcher.so"
loadmodule "ctl.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "path.so"

modparam("ctl", "binrpc", "unix:{site.ctl_socket}")
modparam("usrloc", "db_mode", 0)
modparam("auth_db", "db_url", "{kamailio_db_url(site.database_url)}")
modparam("auth_db", "calculate_ha1", 0)
modparam("auth_db", "user_column", "username")
modparam("auth_db", "password_column", "ha1")
modparam("auth_db", "use_domain", 0)
modparam("auth_db", "load_credentials", "")
modparam("dispatcher", "list_file", "{list_file}")
modparam("dispatcher", "ds_ping_method", "OPTIONS")
modparam("dispatcher", "ds_ping_from", "sip:kamailio@{site.sip_domain}")
modparam("dispatcher", "ds_ping_interval", {site.probe_seconds})
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
# A switch answering the probe at all is up (any 2xx, or a refusal); a timeout (408) is not.
modparam("dispatcher", "ds_ping_reply_codes", "{PROBE_REPLIES}")
modparam("tm", "fr_timer", 2000)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    # Only Kamailio says who a device is (the switches trust {IDENTITY_HEADER}, see
    # pvp/freeswitch/pool.py): a device's own copy is dropped.
    if (!ds_is_from_list("{POOL_SET}")) {{ remove_hf("{IDENTITY_HEADER}"); }}
    if (has_totag()) {{
        if (loose_route() || is_method("ACK|BYE|CANCEL")) {{ t_relay(); }}
        else {{ sl_send_reply("404", "Not here"); }}
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (ds_is_from_list("{POOL_SET}")) {{
        # A switch of the pool calls, messages or pings a device: at the contact the
        # replicated REGISTER gave it (its Route is the Path through here), or at an
        # address of record, wherever the device registered.
        remove_hf("Route");
        if (uri == myself && !lookup("location")) {{
            sl_send_reply("404", "Not registered");
            exit;
        }}
        record_route();
        t_relay();
        exit;
    }}
    if (is_method("REGISTER")) {{
        if (!auth_check("$fd", "sip_subscribers", "1")) {{ auth_challenge("$fd", "0"); exit; }}
        if (!save("location")) {{ sl_reply_error(); exit; }}
        # Every switch of the pool learns the registration too (their answers are not the
        # device's business), with a Path back through here: the dispatcher's offers leave
        # from any switch. The switches accept REGISTER from Kamailio's address only, and
        # without a challenge. ($du stays unset: append_branch would copy it.)
        consume_credentials();
        add_path();
{replicas}        t_replicate();
        exit;
    }}
    if (is_method("OPTIONS") && $rU == $null) {{ sl_send_reply("200", "OK"); exit; }}
    # A kiosk's answer to the control plane goes with its credentials untouched: the switch
    # checks the digest itself (auth-messages; its inbound ACL covers calls only), and the
    # try that answers the switch's challenge keeps its Call-ID, hence its switch.
    if (!is_method("MESSAGE") || $rU != "{CONTROL_PLANE_USER}") {{
        if (!auth_check("$fd", "sip_subscribers", "1")) {{ auth_challenge("$fd", "0"); exit; }}
        append_hf("{IDENTITY_HEADER}: $au@{site.sip_domain}\\r\\n");
        consume_credentials();
    }}
    # The pool, by Call-ID hash; the next switch when one fails.
    if (!ds_select_dst("{POOL_SET}", "0")) {{ sl_send_reply("503", "No switch available"); exit; }}
    record_route();
    t_on_failure("NEXT_SWITCH");
    t_relay();
    exit;
}}

failure_route[NEXT_SWITCH] {{
    if (t_is_canceled()) {{ exit; }}
    if (t_check_status("408|5[0-9][0-9]") && ds_next_dst()) {{
        t_on_failure("NEXT_SWITCH");
        t_relay();
    }}
}}
"""


def render_kamailio(site: KamailioSite, out: Path) -> Path:
    """Write ``kamailio.cfg`` and ``dispatcher.list`` into ``out``; the configuration's path."""
    cfg = out / "kamailio.cfg"
    text = kamailio_cfg(site, out / "dispatcher.list")  # refuses a bad URL before writing
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(out / "dispatcher.list", dispatcher_list(site).encode())
    write_atomically(cfg, text.encode())
    return cfg
