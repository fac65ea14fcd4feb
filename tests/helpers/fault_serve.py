"""`edge-app serve` with two faults planted, for tests/mqtt/test_service_faults.py only.

A message whose payload is exactly `die:network` raises a BaseException on paho's network
thread (the guard catches Exception only, as it must not swallow SystemExit/KeyboardInterrupt);
`die:worker` does the same in the batch worker. Either thread then ends, as it would through a
bug the guard cannot catch, and the watchdog must take the process down.

Usage: python tests/helpers/fault_serve.py serve --bundle ... (the arguments of `edge-app serve`).
"""

from __future__ import annotations

import sys

from edge_app import cli
from edge_app.mqtt import pipeline


class PlantedFault(BaseException):
    pass


_handle = pipeline.ClassifyPipeline.handle
_handle_batch = pipeline.ClassifyPipeline._handle_batch


def handle(self, message):
    if message.payload == b"die:network":
        raise PlantedFault("planted fault on the network thread")
    return _handle(self, message)


def handle_batch(self, batch):
    if any(p.message.payload == b"die:worker" for p in batch):
        raise PlantedFault("planted fault in the batch worker")
    return _handle_batch(self, batch)


pipeline.ClassifyPipeline.handle = handle
pipeline.ClassifyPipeline._handle_batch = handle_batch

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
