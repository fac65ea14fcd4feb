"""Spawn one worker process per engine and collect what it measured."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run_engine(spec: dict[str, Any]) -> dict[str, Any]:
    """Run `edge_app_tools.bench.worker` for one engine; its progress goes to our stderr.

    The spawn time goes into the spec so the worker can report start-to-first-prediction
    from the moment the process was created, interpreter start-up included.
    """
    with tempfile.TemporaryDirectory(prefix="edge-app-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        command = [sys.executable, "-m", "edge_app_tools.bench.worker", str(spec_path), str(out_path)]
        spec = {**spec, "spawned_at": time.time()}  # a few ms before exec: the spec write below
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        # stdout belongs to the table: anything a library prints goes to stderr with the progress.
        process = subprocess.run(command, stdout=sys.stderr, stderr=None, check=False)
        if process.returncode != 0 or not out_path.is_file():
            return {
                "engine": spec["engine"],
                "error": f"worker exited with code {process.returncode}; see the output above",
            }
        return json.loads(out_path.read_text(encoding="utf-8"))
