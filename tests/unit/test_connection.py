"""edge_app/mqtt/connection.py: what the service announces on connect, and the shipped mosquitto
config's packet limit that must match it."""

from __future__ import annotations

from pathlib import Path

from edge_app.config import Config


def test_shipped_mosquitto_packet_limit_matches_the_service():
    conf = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
    lines = [line.split() for line in conf.read_text().splitlines() if line.strip() and not line.startswith("#")]
    (value,) = [v for k, v, *_ in lines if k == "max_packet_size"]
    cfg = Config()
    assert int(value) == cfg.mqtt.max_packet_size > cfg.mqtt.max_payload + 1024


def test_connect_announces_packet_size_and_receive_maximum():
    import paho.mqtt.client as mqtt

    from edge_app.mqtt.connection import connect_properties

    cfg = Config()
    props = connect_properties(cfg, mqtt.MQTTv5)
    # old code: no Maximum Packet Size, so a 200 MB publish was buffered whole before the size check
    assert props.MaximumPacketSize == cfg.mqtt.max_packet_size
    assert props.ReceiveMaximum == cfg.batching.queue_size
