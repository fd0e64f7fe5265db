"""`plantqc bench store` runs end to end at a tiny size and reports its figures (not its speed)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from plantqc.cli import app


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bench_store_reports_rates_ratio_and_an_idempotent_replay(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = "sqlite://" if backend == "sqlite" else request.getfixturevalue("pg_admin_url")
    args = [
        "bench",
        "store",
        "--db",
        url,
        "--tags",
        "20",
        "--timestamps",
        "50",
        "--batch-size",
        "300",
    ]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["dialect"] == backend
    assert figures["samples"] == 1000
    assert figures["replay_inserted"] == 0
    assert figures["samples_per_s"] > 0 and figures["baseline_samples_per_s"] > 0
    assert figures["ratio_vs_baseline"] == pytest.approx(
        figures["baseline_seconds"] / figures["seconds"]
    )
