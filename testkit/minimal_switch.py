"""A minimal FreeSWITCH for the live dispatcher tests: event socket, loopback, optional SIP.

Rendered into a temporary directory and started in the foreground. The project's full
configuration (freeswitch/, written separately) can replace :func:`render_config` later;
nothing else here depends on what the configuration holds beyond the event socket and the
``pvp-test`` dialplan context below.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from testkit.ports import free_port

MODULES = (
    "mod_logfile",
    "mod_event_socket",
    "mod_commands",
    "mod_dptools",
    "mod_dialplan_xml",
    "mod_loopback",
    "mod_tone_stream",
    "mod_sndfile",
)

# Test extensions: what a simulated counsellor's phone does when it rings.
DIALPLAN = """
<context name="pvp-test">
  <extension name="answer">
    <condition field="destination_number" expression="^answer$">
      <action application="ring_ready"/>
      <action application="sleep" data="300"/>
      <action application="answer"/>
      <action application="playback" data="silence_stream://-1"/>
    </condition>
  </extension>
  <extension name="ring">
    <condition field="destination_number" expression="^ring$">
      <action application="ring_ready"/>
      <action application="sleep" data="600000"/>
    </condition>
  </extension>
  <extension name="reject">
    <condition field="destination_number" expression="^reject$">
      <action application="hangup" data="CALL_REJECTED"/>
    </condition>
  </extension>
  <extension name="citizen">
    <condition field="destination_number" expression="^citizen$">
      <action application="answer"/>
      <action application="playback" data="silence_stream://-1"/>
    </condition>
  </extension>
</context>
"""


def sip_profile(name: str, port: int, context: str, params: dict[str, str]) -> str:
    """A mod_sofia profile on 127.0.0.1 (SIP and RTP) routing to ``context``, plus ``params``."""
    every = {
        "sip-ip": "127.0.0.1",
        "rtp-ip": "127.0.0.1",
        "ext-sip-ip": "127.0.0.1",
        "ext-rtp-ip": "127.0.0.1",
        "sip-port": str(port),
        "context": context,
        "dialplan": "XML",
        **params,
    }
    settings = "".join(f'<param name="{k}" value="{v}"/>' for k, v in every.items())
    return f'<profile name="{name}"><settings>{settings}</settings></profile>'


def sofia_conf(*profiles: str) -> str:
    return (
        '<configuration name="sofia.conf"><global_settings/><profiles>'
        + "".join(profiles)
        + "</profiles></configuration>"
    )


def sofia_config(sip_port: int, domain: str) -> str:
    """One UDP profile with digest registration, for real SIP user agents."""
    registration = {
        "auth-calls": "true",
        "force-register-domain": domain,
        "challenge-realm": "auto_from",
    }
    return sofia_conf(sip_profile("pvp", sip_port, "pvp-test", registration))


def directory(domain: str, users: dict[str, str]) -> str:
    entries = "".join(
        f'<user id="{u}"><params><param name="password" value="{p}"/></params></user>'
        for u, p in users.items()
    )
    return f'<section name="directory"><domain name="{domain}">{entries}</domain></section>'


def render_config(
    conf: Path,
    esl_port: int,
    password: str,
    log_dir: Path,
    sip_port: int | None = None,
    users: dict[str, str] | None = None,
    domain: str = "pvp.test",
    *,
    modules: tuple[str, ...] = (),
    configuration: str = "",
    dialplan: str = DIALPLAN,
) -> None:
    """``modules``, ``configuration`` (more ``<configuration>`` elements) and ``dialplan``
    (its contexts) let a test add what it needs, e.g. SIP profiles of its own and mod_spandsp."""
    names = MODULES + (("mod_sofia",) if sip_port else ()) + modules
    loads = "\n".join(f'<load module="{m}"/>' for m in names)
    sofia = sofia_config(sip_port, domain) if sip_port else ""
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "freeswitch.xml").write_text(
        f"""<?xml version="1.0"?>
<document type="freeswitch/xml">
  <section name="configuration">
    <configuration name="switch.conf">
      <settings>
        <param name="max-sessions" value="200"/>
        <param name="loglevel" value="info"/>
        <param name="rtp-start-port" value="{esl_port + 1000}"/>
        <param name="rtp-end-port" value="{esl_port + 1100}"/>
      </settings>
    </configuration>
    <configuration name="modules.conf"><modules>{loads}</modules></configuration>
    <configuration name="event_socket.conf">
      <settings>
        <param name="listen-ip" value="127.0.0.1"/>
        <param name="listen-port" value="{esl_port}"/>
        <param name="password" value="{password}"/>
        <param name="apply-inbound-acl" value="loopback.auto"/>
      </settings>
    </configuration>
    <configuration name="logfile.conf">
      <settings><param name="rotate-on-hup" value="true"/></settings>
      <profiles><profile name="default">
        <settings><param name="logfile" value="{log_dir / "freeswitch.log"}"/></settings>
        <mappings><map name="all" value="debug,info,notice,warning,err,crit,alert"/></mappings>
      </profile></profiles>
    </configuration>
    {sofia}{configuration}
  </section>
  <section name="dialplan">{dialplan}</section>
  {directory(domain, users or {})}
</document>
"""
    )


@dataclass
class MinimalSwitch:
    binary: str
    root: Path
    esl_port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    sip_port: int | None = None  # set: mod_sofia on 127.0.0.1 with these users
    users: dict[str, str] = field(default_factory=dict)
    modules: tuple[str, ...] = ()  # loaded after the minimal ones (see render_config)
    configuration: str = ""
    dialplan: str = DIALPLAN
    process: subprocess.Popen[bytes] | None = None
    _output: IO[bytes] | None = None

    def dirs(self) -> dict[str, Path]:
        return {n: self.root / n for n in ("conf", "log", "db", "run", "temp", "storage", "cache")}

    def start(self, timeout: float = 30) -> None:
        dirs = self.dirs()
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        render_config(
            dirs["conf"],
            self.esl_port,
            self.password,
            dirs["log"],
            self.sip_port,
            self.users,
            modules=self.modules,
            configuration=self.configuration,
            dialplan=self.dialplan,
        )
        args = [self.binary, "-nf", "-nc", "-nonat"]
        for name, path in dirs.items():
            args += [f"-{name}", str(path)]
        self._output = open(dirs["log"] / "stdout.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(args, stdout=self._output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"FreeSWITCH exited at start: see {dirs['log']}")
            try:
                with socket.create_connection(("127.0.0.1", self.esl_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("FreeSWITCH's event socket did not open in time")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def restart(self) -> None:
        self.stop()  # the previous instance must be gone before the next starts
        self.start()
