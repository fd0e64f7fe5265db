"""`plantqc bench ...`: benchmarks, each reported as a ratio against a baseline run alongside."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Benchmarks: each reports a ratio against a baseline measured in the same run."
)
console = Console(highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")]


def print_figures(title: str, figures: list[dict[str, object]], as_json: bool) -> None:
    """Print the figures of each run (one column per run), as a table or as JSON."""
    if as_json:
        typer.echo(json.dumps(figures if len(figures) > 1 else figures[0], indent=1))
        return
    table = Table(title=title)
    table.add_column("figure")
    for _ in figures:
        table.add_column("", justify="right")
    for key in figures[0]:
        cells = (row[key] for row in figures)
        table.add_row(key, *(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in cells))
    console.print(table)


@app.command("store")
def store(
    db: Annotated[
        list[str] | None,
        typer.Option(
            "--db",
            help="Database URL to benchmark (repeatable; default: a temporary SQLite file). "
            "PostgreSQL runs in a scratch database, dropped afterwards.",
        ),
    ] = None,
    tags: Annotated[int, typer.Option(min=1, help="Number of tags.")] = 1000,
    timestamps: Annotated[int, typer.Option(min=1, help="Timestamps per tag.")] = 1000,
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per insert batch.")] = 10_000,
    as_json: JsonOption = False,
) -> None:
    """Batched idempotent sample inserts vs a plain driver executemany of the same rows."""
    from plantqc.bench.store import run_store_bench
    from plantqc.store import connect

    figures = []
    for url in db or [None]:
        if url is not None:
            connect(url).dispose()  # an unreachable server is one sentence, not a traceback
        result = run_store_bench(url, tags=tags, timestamps=timestamps, batch_size=batch_size)
        figures.append(result.to_dict())
    print_figures("store: idempotent bulk insert", figures, as_json)


@app.command("spc")
def spc_bench(
    values: Annotated[int, typer.Option(min=100, help="Individual values to chart.")] = 1_000_000,
    baseline_samples: Annotated[
        int, typer.Option(min=10, help="Samples for the (slow) per-sample pandas baseline.")
    ] = 5_000,
    as_json: JsonOption = False,
) -> None:
    """I-MR + EWMA + CUSUM + Nelson rules: batch and streaming throughput vs pandas."""
    from plantqc.bench.spc import run_spc_bench

    result = run_spc_bench(values, baseline_stream_samples=baseline_samples)
    print_figures("spc: I-MR + EWMA + CUSUM + Nelson rules", [result.to_dict()], as_json)


@app.command("vision")
def vision_bench(
    size: Annotated[int, typer.Option(min=64, help="Side of the square test image, px.")] = 4096,
    repeats: Annotated[int, typer.Option(min=1, help="Runs; each side keeps its best time.")] = 3,
    quality: Annotated[
        bool,
        typer.Option(
            "--quality",
            help="Instead of timing, score every acceptance figure on both generators and "
            "the public micrographs.",
        ),
    ] = False,
    images: Annotated[int, typer.Option(min=1, help="Images per kind for --quality.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Particle analysis of a synthetic micrograph on one core vs scikit-image, with F1."""
    if quality:
        from plantqc.bench.vision import run_vision_quality

        print_figures("vision: quality sweep", [run_vision_quality(images)], as_json)
        return
    from plantqc.bench.vision import run_vision_bench

    result = run_vision_bench(size, repeats=repeats)
    print_figures("vision: particle analysis", [result.to_dict()], as_json)


@app.command("grafana")
def grafana_bench(
    db: Annotated[
        str,
        typer.Option(
            "--db",
            help="PostgreSQL admin URL; a scratch database is created there and dropped after.",
        ),
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    tags: Annotated[int, typer.Option(min=1, help="Scalar tags.")] = 50,
    days: Annotated[float, typer.Option(min=0.05, help="Days of data.")] = 7.0,
    rate_hz: Annotated[float, typer.Option(min=0.001, help="Samples per second per tag.")] = 1.0,
    repeats: Annotated[int, typer.Option(min=2, help="Runs of each query per range.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Latency (p50 / p95) of every Grafana panel query over 7 days and the last hour."""
    from plantqc.bench.grafana import run_grafana_bench
    from plantqc.store import connect

    connect(db).dispose()  # an unreachable server is one sentence, not a traceback
    result = run_grafana_bench(db, tags=tags, days=days, rate_hz=rate_hz, repeats=repeats)
    print_figures("grafana: panel query latency", [result.to_dict()], as_json)


@app.command("ingest")
def ingest_bench(
    tags: Annotated[int, typer.Option(min=1, help="Scalar tags served by the simulator.")] = 500,
    interval_ms: Annotated[
        list[int] | None,
        typer.Option("--interval-ms", min=10, help="Update interval per tag, ms (repeatable)."),
    ] = None,
    seconds: Annotated[float, typer.Option(min=1, help="Measured window, s.")] = 20.0,
    as_json: JsonOption = False,
) -> None:
    """Simulator -> daemon -> SQLite end to end vs a bare asyncua client counting notifications."""
    from plantqc.bench.ingest import run_ingest_bench

    figures = [
        run_ingest_bench(tags, interval, seconds).to_dict() for interval in interval_ms or [100]
    ]
    print_figures("ingest: OPC UA -> buffer -> store", figures, as_json)


@app.command("engine")
def engine_bench(
    tags: Annotated[int, typer.Option(min=1, help="Scalar tags served by the simulator.")] = 500,
    interval_ms: Annotated[int, typer.Option(min=10, help="Update interval per tag, ms.")] = 100,
    seconds: Annotated[float, typer.Option(min=1, help="Measured window, s.")] = 60.0,
    image_px: Annotated[int, typer.Option(min=64, help="Side of each dropped image, px.")] = 4096,
    image_every_s: Annotated[float, typer.Option(min=0.1, help="Seconds between images.")] = 5.0,
    images: Annotated[
        bool, typer.Option("--images/--no-images", help="Drop images into the image folder.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Ingest + SPC engine + image pool under load: rates, chart lag, image latency, CPU, RSS."""
    from plantqc.bench.engine import run_engine_bench

    result = run_engine_bench(
        tags,
        interval_ms,
        seconds,
        image_px=image_px,
        image_every_s=image_every_s if images else None,
    )
    load = f"{tags} tags every {interval_ms} ms" + (" plus images" if images else "")
    print_figures(f"engine: {load}", [result.to_dict()], as_json)


@app.command("runner")
def runner_bench(
    tags: Annotated[int, typer.Option(min=1, help="I-MR tags charted.")] = 500,
    interval_ms: Annotated[int, typer.Option(min=1, help="Sampling interval per tag, ms.")] = 100,
    seconds: Annotated[float, typer.Option(min=0.1, help="Data charted, s of line time.")] = 10.0,
    batch_ms: Annotated[int, typer.Option(min=1, help="Line time per stored batch, ms.")] = 200,
    as_json: JsonOption = False,
) -> None:
    """The streaming charts alone, batch by batch: CPU s per 5k samples vs storing them."""
    from plantqc.bench.runner import run_runner_bench

    result = run_runner_bench(tags, interval_ms, seconds, batch_ms=batch_ms)
    print_figures(f"runner: {tags} I-MR tags every {interval_ms} ms", [result.to_dict()], as_json)


@app.command("idle")
def idle_bench(
    seconds: Annotated[float, typer.Option(min=1, help="Measured window, s.")] = 60.0,
    as_json: JsonOption = False,
) -> None:
    """The example casting line at its configured rates: CPU and RSS of daemon + engine."""
    from plantqc.bench.idle import run_idle_bench

    print_figures("idle: the example casting line", [run_idle_bench(seconds).to_dict()], as_json)


@app.command("report")
def report_bench(
    tags: Annotated[int, typer.Option(min=1, help="Charted tags of the lot.")] = 200,
    hours: Annotated[float, typer.Option(min=0.01, help="Length of the lot, h.")] = 24.0,
    rate_hz: Annotated[float, typer.Option(min=0.001, help="Samples per second per tag.")] = 1.0,
    images: Annotated[int, typer.Option(min=0, help="Image results filed under the lot.")] = 200,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also time printing the PDF.")] = False,
    as_json: JsonOption = False,
) -> None:
    """QC report of a lot (24 h of 200 tags at 1 Hz, 200 images): time and peak RSS vs pandas."""
    from plantqc.bench.report import run_report_bench

    result = run_report_bench(tags, hours, rate_hz, images, pdf=pdf)
    print_figures("report: batch QC report of one lot", [result.to_dict()], as_json)


@app.command("control")
def control_bench(
    hours: Annotated[
        float, typer.Option(min=0.05, help="Measured hours of each run, after the start-up.")
    ] = 8.0,
    start_up_s: Annotated[
        float, typer.Option(min=0, help="Start-up left out of the figures, s.")
    ] = 900.0,
    seed: Annotated[int, typer.Option(help="Seed of the line's disturbances.")] = 18,
    robust: Annotated[
        bool, typer.Option("--robust/--no-robust", help="Also run the 13 model-error cases.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """MD and CD thickness control on the seeded casting line: closed loop vs open loop."""
    from plantqc.bench.control import run_control_bench

    result = run_control_bench(hours, seed=seed, robust=robust, start_up_s=start_up_s).to_dict()
    if as_json:
        typer.echo(json.dumps(result, indent=1))
        return
    cases = result.pop("robust")
    print_figures("control: closed loop vs open loop", [result], False)
    if cases:  # one row per case: 13 columns of figures would not fit a terminal
        table = Table(title="control: closed loop with the model wrong")
        for key in cases[0]:
            table.add_column(key, justify="right")
        for case in cases:
            table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in case.values()))
        console.print(table)
