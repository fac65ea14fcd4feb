"""edge_app/mqtt/routes.py: the route table (topic filter -> handler)."""

from __future__ import annotations

from edge_app.mqtt.routes import Routes


def test_routes_match_first_and_first_flag():
    routes = Routes()
    routes.add("p/#", lambda m: "all")
    routes.add("p/cmd/model", lambda m: "cmd", first=True)
    assert routes.match("p/cmd/model").filter == "p/cmd/model"
    assert routes.match("p/classify").filter == "p/#"
    assert routes.match("q/x") is None
