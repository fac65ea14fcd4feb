"""Manual experiment behind docs/fleet.md: what mosquitto does with a dead `$share` member's commands.

    python scripts/fleet_expiry_experiment.py 0     # session expiry of the member that dies, in seconds

Member A (never acknowledges, Receive Maximum 10) and member B (acknowledges) share `$share/g/t`;
20 commands, `kill -9` of A, 20 more; after the expiry has passed it prints which commands B got.
Not a test: it records a broker's behaviour, it does not check ours.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_app_tools.harness import free_port, wait_port


def member(port: int, cid: str, expiry: int, ack: bool) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5, manual_ack=True)

    def on_message(c, _u, msg):
        print("got", msg.payload.decode(), time.time(), flush=True)
        if ack:
            c.ack(msg.mid, msg.qos)

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("$share/g/t", qos=1)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval, props.ReceiveMaximum = expiry, 10
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_forever()


def main(expiry: int) -> None:
    folder = Path(tempfile.mkdtemp())
    port = free_port()
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n")
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(folder / "m.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    logs = {n: open(folder / f"{n}.log", "w") for n in "ab"}
    a = subprocess.Popen([sys.executable, __file__, "member", str(port), "A", str(expiry), "noack"], stdout=logs["a"])
    b = subprocess.Popen([sys.executable, __file__, "member", str(port), "B", "600", "ack"], stdout=logs["b"])
    time.sleep(1)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    for i in range(20):
        pub.publish("t", f"pre{i}", qos=1)
    time.sleep(1)
    a.send_signal(signal.SIGKILL)
    a.wait()
    for i in range(20):
        pub.publish("t", f"post{i}", qos=1)
    time.sleep(expiry + 6)
    for proc in (b, broker):
        proc.terminate()
        proc.wait()
    got = lambda n: [line.split()[1] for line in (folder / f"{n}.log").read_text().splitlines()]
    everything = {f"{k}{i}" for k in ("pre", "post") for i in range(20)}
    print(f"session expiry {expiry} s: A got (never acknowledged) {got('a')}")
    print(f"B got {len(got('b'))}; never answered: {sorted(everything - set(got('b')))}")


if __name__ == "__main__":
    if sys.argv[1] == "member":
        member(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5] == "ack")
    else:
        main(int(sys.argv[1]))
