"""The kiosk's document traffic with the control plane over HTTPS, with HTTP Digest.

The kiosk authenticates with its SIP user and secret (the control plane keeps only the HA1).
It follows a document link only under the control plane's own base URL: a command naming
another host is refused rather than sent credentials' challenges elsewhere.
"""

from __future__ import annotations

import logging
import time

import requests
from requests.auth import HTTPDigestAuth

from pvp.common.errors import PvpError
from pvp.common.pdf import DocumentError

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
UPLOAD_TRIES = 3


class UplinkError(PvpError, RuntimeError, code="uplink_failed"):
    """The control plane refused or could not be reached; ``str()`` is French."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return str(body.get("error") or f"HTTP {response.status_code}")


class ControlPlaneClient:
    def __init__(
        self, base_url: str, kiosk_id: str, secret: str, verify: bool | str = True
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.kiosk_id = kiosk_id
        self._session = requests.Session()
        self._session.auth = HTTPDigestAuth(kiosk_id, secret)
        self._session.verify = verify

    def fetch(self, url: str, max_bytes: int) -> bytes:
        """Download a document link; DocumentError with the reason on any failure."""
        if not url.startswith(self.base_url + "/api/v1/documents/"):
            raise DocumentError("lien de document non autorisé (autre serveur)")
        try:
            with self._session.get(url, stream=True, timeout=TIMEOUT_S) as response:
                if response.status_code != 200:
                    raise DocumentError(f"téléchargement refusé : {_error_text(response)}")
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise DocumentError("document plus gros qu'annoncé")
                return bytes(data)
        except requests.RequestException as exc:
            log.warning("document download failed: %s", exc)
            raise DocumentError("serveur de documents injoignable") from exc

    def upload(self, command_id: str, pdf: bytes, sha256: str) -> dict[str, object]:
        """Upload a scan for its command, retried: the control plane is idempotent on it."""
        url = f"{self.base_url}/api/v1/kiosks/{self.kiosk_id}/documents"
        last: UplinkError | None = None
        for attempt in range(UPLOAD_TRIES):
            try:
                response = self._session.post(
                    url,
                    params={"command": command_id},
                    data=pdf,
                    headers={"Content-Type": "application/pdf", "X-Content-SHA256": sha256},
                    timeout=TIMEOUT_S,
                )
            except requests.RequestException as exc:
                last = UplinkError("serveur de documents injoignable")
                log.warning("upload of %s, try %d: %s", command_id, attempt + 1, exc)
                time.sleep(0.5 * (attempt + 1))
                continue
            if response.status_code in (200, 201):
                result: dict[str, object] = response.json()
                return result
            last = UplinkError(_error_text(response), response.status_code)
            if response.status_code < 500:
                break  # refused for a reason: trying again changes nothing
        assert last is not None
        raise last
