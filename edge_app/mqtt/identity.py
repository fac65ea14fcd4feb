"""Which member of a group this process is: the instance id.

Boards in one `$share` group usually share a device id (so they share topics), but each must
be told apart: in its client id (else the broker throws one member off when the other
connects), in its own status topic with its own Last Will, and in metrics and results. The id
defaults to the host name plus a random suffix made once and kept in the state dir, so it
survives restarts (the broker finds the member's session again) and two containers on one host
still differ.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from ..config import Config
from ..errors import ConfigError

INSTANCE_ID_FILE = "instance-id"


def _valid(instance_id: str, where: str) -> str:
    if not instance_id or any(c in instance_id for c in "/+#\0") or len(instance_id) > 64:
        raise ConfigError(
            f"instance id {instance_id!r} from {where} must be 1-64 characters without / + # ; "
            "fix mqtt.instance_id or delete the file so a new one is made"
        )
    return instance_id


def resolve_instance_id(cfg: Config, create: bool = True) -> str:
    """mqtt.instance_id, else the id stored in <state_dir>/instance-id (made on first use with `create`)."""
    if cfg.mqtt.instance_id:
        return _valid(cfg.mqtt.instance_id, "mqtt.instance_id")
    path = Path(cfg.state_dir) / INSTANCE_ID_FILE
    try:
        return _valid(path.read_text(encoding="utf-8").strip(), str(path))
    except FileNotFoundError:
        pass
    host = socket.gethostname().split(".")[0] or "edge"
    made = f"{host}-{secrets.token_hex(3)}"
    if not create:
        return ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(made + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the instance id in {path} ({exc.strerror}); make state_dir writable or set mqtt.instance_id"
        ) from None
    return made
