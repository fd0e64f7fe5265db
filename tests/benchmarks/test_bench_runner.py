"""Smoke test of `plantqc bench runner` at a tiny size: the report's fields, not speed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from plantqc.cli import app


def test_runner_bench_charts_every_sample_and_meters_both_sides() -> None:
    result = CliRunner().invoke(
        app, ["bench", "runner", "--tags", "20", "--seconds", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    # 2 s of 20 tags every 100 ms, in 200 ms batches after the warm-up ones
    assert (figures["samples"], figures["batch_ms"]) == (400, 200)
    assert figures["violations"] > 0  # the faulty tag keeps rules firing
    assert figures["runner_cpu_s_per_5k_samples"] > 0
    assert figures["store_cpu_s_per_5k_samples"] > 0
