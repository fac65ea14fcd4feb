"""Node-RED 4.1 running examples/node-red/flows.json exactly as shipped, against a real `edge-app serve`.

The flow takes its broker from MQTT_HOST / MQTT_PORT; the test deploys the file unchanged through the
admin API (POST /flows), presses its inject node (POST /inject/<id>) and watches what the flow
publishes: the light command for a `lights_on` / `lights_off` result (single and batch), and the answer
it matched to its MQTT 5 request by correlation data.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from helpers.client_programs import NodeRed, installed, wait_until
from helpers.mqtt import Collector, Serve, mosquitto  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOWS = Path(__file__).resolve().parents[2] / "examples" / "node-red" / "flows.json"


def test_shipped_flow_switches_on_label_and_does_v5_request_response(default_bundle, mosquitto, tmp_path):
    node_red = installed("node-red", "node-red-4.1/node_modules/.bin/node-red")
    flows = json.loads(FLOWS.read_text())  # exactly as shipped: no edits before deploying
    serve = Serve(default_bundle, mosquitto.url, tmp_path / "state", "kitchen").start()
    red = NodeRed(node_red, tmp_path / "node-red", {"MQTT_HOST": "127.0.0.1", "MQTT_PORT": str(mosquitto.port)})
    bus = Collector(mosquitto.url, ["home/kitchen/light/set", "node-red/edge-app/#", "edge-app/kitchen/#"])
    try:
        assert bus.wait_status("edge-app/kitchen", "online"), serve.output()
        red.start()
        red.deploy(flows)
        # Node-RED connects its broker node after the deploy; its subscription is live once a probe result
        # comes out of the flow as a light command.
        wait_until(
            lambda: (
                bus.publish("edge-app/kitchen/classify", "turn on the lights"),
                time.sleep(1),
                bus.payloads("home/kitchen/light/set"),
            )[-1],
            60,
            "the flow to turn a lights_on result into ON on home/kitchen/light/set",
            interval=0.5,
        )
        assert bus.payloads("home/kitchen/light/set")[0] == b"ON"
        time.sleep(1.5)  # let the last probe's command arrive before counting

        before = len(bus.payloads("home/kitchen/light/set"))
        bus.publish(
            "edge-app/kitchen/classify",
            json.dumps({"items": ["switch the lights off", "what time is it", "turn on the lights please"]}),
        )
        wait_until(
            lambda: len(bus.payloads("home/kitchen/light/set")) >= before + 2,
            30,
            "one light command per matching item of a batch result",
        )
        assert bus.payloads("home/kitchen/light/set")[before : before + 2] == [b"OFF", b"ON"]

        red.inject("edge_app_ask")
        answer = wait_until(
            lambda: bus.json("node-red/edge-app/answer"),
            30,
            "the flow's v5 request to be answered and matched by correlation data",
        )[0]
        assert answer["label"] == "lights_on" and answer["text"] == "could you turn the lights on in here"
        reply = bus.messages["edge-app/kitchen/reply/node-red"][0]
        assert reply.properties.CorrelationData.decode() == answer["correlation"]
    finally:
        bus.close()
        red.stop()
        serve.stop()
    assert "reply without a pending request" not in red.log_text()
