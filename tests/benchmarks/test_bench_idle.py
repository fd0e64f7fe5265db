"""Smoke test of `plantqc bench idle` at a tiny size: the report's fields, not the figures."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from plantqc.bench.idle import run_idle_bench

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "casting.yaml"


@pytest.mark.slow
def test_idle_bench_meters_daemon_and_engine_on_the_example_line() -> None:
    result = run_idle_bench(4.0, warmup_s=2.0).to_dict()
    example = yaml.safe_load(EXAMPLE.read_text())
    assert result["tags"] == sum(len(line["tags"]) for line in example["lines"])
    assert result["stored_per_s"] > 0
    assert result["processes"] >= 2  # the daemon and its engine process
    assert result["cpu_pct"] > 0
    assert result["rss_mib"] > 0
