"""`plantqc bench ...`: throughput benchmarks, each reported as a ratio against a baseline run alongside."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: each reports a ratio against a baseline measured in the same run.")
