"""The issue's goals, checked against one run's numbers: ratio, target, PASS or MISS.

A goal whose engines did not run is reported as "n/a" with what to add, never dropped, so
the page always shows the full list.
"""

from __future__ import annotations

from typing import Any


def _engine(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    engine = results["engines"].get(name)
    return engine if engine and "error" not in engine else None


def _b1(engine: dict[str, Any] | None) -> float | None:
    return engine["latency_short"]["texts_per_s"] if engine else None


def _goal(
    name: str, target: str, measured: float | None, passed: bool | None, unit: str, missing: str
) -> dict[str, Any]:
    return {
        "goal": name,
        "target": target,
        "measured": measured,
        "unit": unit,
        "status": "n/a" if passed is None else ("PASS" if passed else "MISS"),
        "missing": missing if passed is None else "",
    }


def _ratio_goal(results: dict[str, Any], other: str, minimum: float, title: str, missing: str) -> dict[str, Any]:
    int8, rival = _b1(_engine(results, "int8")), _b1(_engine(results, other))
    ratio = int8 / rival if int8 and rival else None
    return _goal(title, f">= {minimum:g}x", ratio, None if ratio is None else ratio >= minimum, "x", missing)


def _accuracy_goal(results: dict[str, Any]) -> dict[str, Any]:
    int8, fp32 = _engine(results, "int8"), _engine(results, "fp32")
    name = "test" if int8 and "test" in int8["accuracy"] else "bundle"
    title = f"int8 accuracy within 1 point of fp32 ({'default test split' if name == 'test' else 'bundle eval set'})"
    if not int8 or not fp32 or name not in int8["accuracy"]:
        return _goal(title, "<= 1.0 pt", None, None, "pt", "run with --compare FP32_BUNDLE")
    drop = 100.0 * (fp32["accuracy"][name]["accuracy"] - int8["accuracy"][name]["accuracy"])
    return _goal(title, "<= 1.0 pt", drop, drop <= 1.0, "pt", "")


def _mqtt_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    mqtt, int8 = results.get("mqtt"), _engine(results, "int8")
    missing = "run with --mqtt mqtt://HOST:PORT"
    if mqtt and "error" in mqtt:
        missing = f"MQTT run failed: {mqtt['error'].splitlines()[0]}"
    ok = bool(mqtt and "error" not in mqtt and int8)
    batch = str(mqtt.get("max_batch", 32)) if ok else "32"
    own = int8["throughput"].get(batch, {}).get("texts_per_s") if ok else None
    best = mqtt["qos1"]["max_results_per_s"] if ok else None
    share = best / own if best and own else None
    rtt = mqtt["round_trip"].get("p50_ms") if ok else None
    budget = int8["latency_short"]["p50_ms"] + 3.0 if ok else None
    lost = mqtt["qos1"]["lost"] if ok else None
    return [
        _goal(
            f"MQTT QoS 1 sustained results/s vs int8 batch-{batch} texts/s",
            ">= 90 %",
            None if share is None else 100 * share,
            None if share is None else share >= 0.9,
            "%",
            missing,
        ),
        _goal(
            "MQTT round-trip p50 <= int8 batch-1 p50 + 3 ms",
            "<= model+3 ms" if budget is None else f"<= {budget:.2f} ms",
            rtt,
            None if rtt is None or budget is None else rtt <= budget,
            "ms",
            missing,
        ),
        _goal("MQTT QoS 1 messages lost", "= 0", lost, None if lost is None else lost == 0, "", missing),
    ]


def _b32(engine: dict[str, Any] | None) -> float | None:
    return engine["throughput"].get("32", {}).get("texts_per_s") if engine else None


def _batch32_goal(results: dict[str, Any], other: str, minimum: float, title: str, missing: str) -> dict[str, Any]:
    int8, rival = _b32(_engine(results, "int8")), _b32(_engine(results, other))
    ratio = int8 / rival if int8 and rival else None
    return _goal(title, f">= {minimum:g}x", ratio, None if ratio is None else ratio >= minimum, "x", missing)


def _issue16_mqtt_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """#16's tighter MQTT bars: round trip within 1.5 ms of the model, no gap over 100 ms."""
    mqtt, int8 = results.get("mqtt"), _engine(results, "int8")
    ok = bool(mqtt and "error" not in mqtt and int8)
    missing = "run with --mqtt mqtt://HOST:PORT"
    rtt = mqtt["round_trip"].get("p50_ms") if ok else None
    budget = int8["latency_short"]["p50_ms"] + 1.5 if ok else None
    gaps = [step["longest_gap_s"] for step in mqtt["qos1"]["steps"] if "longest_gap_s" in step] if ok else []
    gap = 1000 * max(gaps) if gaps else None
    return [
        _goal(
            "#16: MQTT round-trip p50 <= int8 batch-1 p50 + 1.5 ms",
            "<= model+1.5 ms" if budget is None else f"<= {budget:.2f} ms",
            rtt,
            None if rtt is None or budget is None else rtt <= budget,
            "ms",
            missing,
        ),
        _goal(
            "#16: MQTT QoS 1 longest gap between results, worst step",
            "<= 100 ms",
            gap,
            None if gap is None else gap <= 100.0,
            "ms",
            missing,
        ),
    ]


def _issue16_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """#16's Done-when bars, added after the earlier goals (their keys and order stay)."""
    torch, fp32 = "add --baseline torch", "add --compare FP32_BUNDLE"
    optimum = "needs the export extra; drop --no-optimum"
    return [
        _ratio_goal(results, "optimum", 1.3, "#16: int8 / Optimum pipeline, batch-1 short texts/s", optimum),
        _ratio_goal(results, "torch", 6.0, "#16: int8 / PyTorch eager, batch-1 short texts/s", torch),
        _batch32_goal(results, "optimum", 1.2, "#16: int8 / Optimum pipeline, batch-32 texts/s", optimum),
        _ratio_goal(results, "fp32", 2.0, "#16: int8 / onnxruntime fp32, batch-1 short texts/s", fp32),
        _batch32_goal(results, "fp32", 2.0, "#16: int8 / onnxruntime fp32, batch-32 texts/s", fp32),
        *_issue16_mqtt_goals(results),
    ]


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every goal of the issues, in the order the docs list them (#16's last)."""
    return [
        _ratio_goal(results, "torch", 5.0, "int8 / PyTorch eager, batch-1 short texts/s", "add --baseline torch"),
        _ratio_goal(
            results, "fp32", 1.8, "int8 / onnxruntime fp32, batch-1 short texts/s", "add --compare FP32_BUNDLE"
        ),
        _ratio_goal(
            results,
            "optimum",
            1.2,
            "int8 / Optimum pipeline, batch-1 short texts/s",
            "needs the export extra; drop --no-optimum",
        ),
        _accuracy_goal(results),
        *_mqtt_goals(results),
        *_issue16_goals(results),
    ]
