"""The one place of PVP configuration: every address, port, secret and path.

Values come from the environment (``PVP_*``), then an optional TOML file named by
``PVP_CONFIG``, then the defaults below, so the same files serve a test on 127.0.0.1
and a real site.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "pvp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PVP_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str = ""  # empty: a SQLite file in data_dir
    http_host: str = "127.0.0.1"
    http_port: int = 8470
    timezone: str = "Europe/Paris"
    # The deployment's single SIP domain: digest realm of every a1-hash.
    sip_domain: str = "pvp.auvergne.local"
    # Minutes around an appointment's start during which a press counts as that citizen.
    checkin_before_minutes: int = 15
    checkin_after_minutes: int = 20

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
