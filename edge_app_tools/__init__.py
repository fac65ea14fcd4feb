"""Workstation tools around the edge-app runtime: `edge-app bench`, `edge-app demo` and the one MQTT
harness (start `edge-app serve`, talk to it over MQTT, collect what it says) that demo, bench and the
tests share.

They are a separate distribution, `edge-app-tools` (tools/pyproject.toml), so a board's
`pip install .` (deploy/install.sh, the container images) carries only the runtime in `edge_app/`.
`edge_app` never imports this package; tests/unit/test_tools_boundary.py checks that.
"""
