"""Smoke test of `plantqc bench spc` at a tiny size: the report's fields, not its speed."""

import json

from typer.testing import CliRunner

from plantqc.bench.spc import run_spc_bench
from plantqc.cli import app


def test_spc_bench_reports_throughput_and_ratios() -> None:
    result = run_spc_bench(values=3_000, baseline_stream_samples=200)
    report = result.to_dict()
    assert report["values"] == 3_000
    assert report["baseline_stream_samples"] == 200
    for key in ("batch_values_per_s", "stream_samples_per_s", "batch_ratio", "stream_ratio"):
        assert report[key] > 0
    # Batch and streaming evaluate the same charts and rules on the same data.
    assert report["batch_signals"] == report["stream_signals"]


def test_spc_bench_command_prints_json() -> None:
    result = CliRunner().invoke(
        app, ["bench", "spc", "--values", "500", "--baseline-samples", "50", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["values"] == 500
