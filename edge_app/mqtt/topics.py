"""Every topic name the service uses, derived in one place from the config."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config

HA_DISCOVERY_PREFIX = "homeassistant"


@dataclass(frozen=True)
class Topics:
    prefix: str
    inputs: tuple[str, ...]
    result_template: str  # "" -> <prefix>/result; "{input}" is replaced by the input topic
    device_id: str
    shared_group: str = ""
    instance_id: str = ""

    @classmethod
    def from_config(cls, cfg: Config) -> Topics:
        prefix = cfg.prefix
        inputs = tuple(t.replace("{prefix}", prefix) for t in cfg.mqtt.inputs) or (f"{prefix}/classify",)
        return cls(
            prefix, inputs, cfg.mqtt.result_topic, cfg.resolved_device_id, cfg.mqtt.shared_group, cfg.mqtt.instance_id
        )

    # Per group (shared by every member): inputs, result, error, metrics (each carries "instance"), cmd/*,
    # and status. Per instance: instances/<id>/status. See docs/fleet.md.

    @property
    def result(self) -> str:
        return f"{self.prefix}/result"

    @property
    def assist(self) -> str:
        """The source_topic of results for Assist transcripts (nothing is published or subscribed there)."""
        return f"{self.prefix}/assist"

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def instance_status(self) -> str:
        """online/offline of this member alone; in a shared group it carries the Last Will."""
        return f"{self.prefix}/instances/{self.instance_id}/status"

    @property
    def member(self) -> bool:
        """One member of a shared group (with an instance id of its own)."""
        return bool(self.shared_group and self.instance_id)

    @property
    def will(self) -> str:
        """Where `offline` goes when this process dies or stops. A member's Will must not mark the whole group
        offline while another member serves, so in a shared group it is the member's own status topic."""
        return self.instance_status if self.member else self.status

    def online_topics(self) -> list[str]:
        """Where `online` goes on each connect: the group's status, and the member's own when in a group."""
        return [self.status, self.instance_status] if self.member else [self.status]

    @property
    def metrics(self) -> str:
        return f"{self.prefix}/metrics"

    @property
    def error(self) -> str:
        return f"{self.prefix}/error"

    @property
    def cmd_model(self) -> str:
        return f"{self.prefix}/cmd/model"

    @property
    def cmd_teach(self) -> str:
        return f"{self.prefix}/cmd/teach"

    @property
    def cmd_result(self) -> str:
        return f"{self.prefix}/cmd/result"

    def subscriptions(self, shared: bool) -> list[str]:
        """Input filters as subscribed: `$share/<group>/<filter>` when a shared group is set."""
        if shared and self.shared_group:
            return [f"$share/{self.shared_group}/{f}" for f in self.inputs]
        return list(self.inputs)

    def result_for(self, input_topic: str) -> str:
        if not self.result_template:
            return self.result
        return self.result_template.replace("{input}", input_topic).replace("{prefix}", self.prefix)

    def ha_discovery(self, kind: str) -> str:
        return f"{HA_DISCOVERY_PREFIX}/sensor/edge_app_{self.device_id}/{kind}/config"
