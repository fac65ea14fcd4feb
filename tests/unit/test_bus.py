"""edge_app/mqtt/bus.py: the network loop reads a bounded burst, then writes (a stand-in paho reader)."""

from __future__ import annotations

import paho.mqtt.client as mqtt

from edge_app.mqtt.bus import cap_read_burst


class BurstClient:
    """paho's reader seen from loop_read: `_packet_read` returns what `script` says, one item a call."""

    def __init__(self, script):
        self.script, self.reads, self.handled = list(script), 0, []

    def socket(self):
        return object()

    def _packet_read(self):
        self.reads += 1
        return self.script.pop(0) if self.script else mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _loop_rc_handle(self, rc):
        self.handled.append(rc)
        return rc


def test_the_network_loop_reads_a_bounded_burst_then_writes():
    flood = BurstClient([])  # data keeps coming: paho would read one packet per unacknowledged message
    cap_read_burst(flood, burst=32)
    assert flood.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and flood.reads == 32
    drained = BurstClient([mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS, mqtt.MQTTErrorCode.MQTT_ERR_AGAIN])
    cap_read_burst(drained, burst=32)
    assert drained.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and drained.reads == 2  # socket empty: stop
    lost = BurstClient([mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST])
    cap_read_burst(lost, burst=32)
    assert lost.loop_read() == mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST and lost.handled == [
        mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
    ]
