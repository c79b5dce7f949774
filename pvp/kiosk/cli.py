"""The kiosk PC's command, ``pvp-kiosk`` (installed by ``pip install 'pvp[kiosk]'``).

Its commands are also ``pvp kiosk`` and ``pvp kiosk-browser`` where the control plane is
installed too. The agent is imported when a command runs, so ``pvp --help`` on a control plane
needs none of the kiosk's device libraries.
"""

from __future__ import annotations

from pathlib import Path

import click

from pvp.common.cli import Commands
from pvp.common.errors import Refused
from pvp.wire import bundle as wire_bundle


@click.command("run")
@click.option(
    "--bundle", "bundle_dir", required=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--screen-port", type=int, default=None, help="Kiosk screen on 127.0.0.1 (8480)")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--heartbeat-period",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Seconds between health reports (shorter for soak tests)",
)
def run(
    bundle_dir: Path, screen_port: int | None, state_dir: Path | None, heartbeat_period: float
) -> None:
    """Run the kiosk agent of the kiosk whose bundle is BUNDLE (until SIGTERM)."""
    import asyncio
    import logging

    from pvp.kiosk.agent import AgentConfig, run_agent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = AgentConfig.from_bundle(
            bundle_dir, state_dir or bundle_dir / "state", screen_port, heartbeat_period
        )
    except (OSError, ValueError) as exc:  # a BundleError is a ValueError
        raise Refused(f"{bundle_dir}: unusable bundle: {exc}") from None
    asyncio.run(run_agent(config))


@click.command("browser")
@click.option(
    "--bundle", "bundle_dir", required=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Home directory of the user the kiosk's Chromium runs as (its NSS database)",
)
@click.option(
    "--policies-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where Chromium reads managed policies (/etc/chromium/policies/managed)",
)
@click.option("--screen-port", type=int, default=None, help="Kiosk screen on 127.0.0.1 (8480)")
def browser(
    bundle_dir: Path, home: Path, policies_dir: Path | None, screen_port: int | None
) -> None:
    """Set up the kiosk's Chromium: trust the bundle's CA, allow camera and microphone."""
    from pvp.kiosk.browser import (
        DEFAULT_POLICIES_DIR,
        BrowserSetupError,
        trust_ca,
        write_policies,
    )

    try:
        bundle = wire_bundle.read(bundle_dir)
        ca = bundle.ca_path(bundle_dir)
        if ca is None:
            raise BrowserSetupError("the bundle names no CA (set ca_file before issuing it)")
        port = screen_port or bundle.agent.screen_port
        db = trust_ca(home, ca)
        policy = write_policies(policies_dir or DEFAULT_POLICIES_DIR, f"http://127.0.0.1:{port}")
    except (OSError, ValueError, BrowserSetupError) as exc:
        raise Refused(str(exc)) from None
    click.echo(f"CA trusted in {db}; policies written to {policy}")


@click.group(cls=Commands)
def main() -> None:
    """Point Visio Public kiosk PC: the kiosk agent and its browser's set-up."""


main.add_command(run)
main.add_command(browser)

if __name__ == "__main__":
    main()
