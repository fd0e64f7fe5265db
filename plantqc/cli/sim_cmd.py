"""`plantqc sim`: serve a config's lines from the built-in OPC UA simulator; `plantqc sim
record`: write their simulated history to a file without waiting in real time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from plantqc.cli.options import PlantConfigOption, parse_time
from plantqc.config import load_config
from plantqc.errors import UserError
from plantqc.sim.scenario import Scenario, load_scenario, parse_fault_flag

if TYPE_CHECKING:
    from plantqc.sim.server import LineSimulator


app = typer.Typer(
    help="Serve the config's lines over OPC UA (no sub-command), or record their history.",
    invoke_without_command=True,
)

# the plan of a simulated run, the same whether it is served live or recorded (`_plan`)
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the process model.")]
ScenarioOption = Annotated[
    Path | None, typer.Option("--scenario", help="Scenario YAML with faults to inject.")
]
FaultOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fault",
        help="Extra fault KIND:TAG@START[+DURATION][=MAGNITUDE] (repeatable), "
        "e.g. drift:dry_thickness_um@60=1.",
    ),
]
TickMsOption = Annotated[int, typer.Option("--tick-ms", min=1, help="Model step, ms.")]


def _plan(scenario: Path | None, fault: list[str] | None) -> Scenario:
    base = load_scenario(scenario) if scenario else Scenario()
    extra = [parse_fault_flag(text) for text in fault or []]
    return base.model_copy(update={"faults": [*base.faults, *extra]})


@app.callback()
def sim(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Plant config YAML.")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Serve on this port.")
    ] = None,
    seed: SeedOption = 0,
    scenario: ScenarioOption = None,
    fault: FaultOption = None,
    tick_ms: TickMsOption = 100,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Stop after this many seconds.")
    ] = None,
    pki: Annotated[
        Path | None, typer.Option("--pki", help="Folder for the server certificate.")
    ] = None,
) -> None:
    """Serve the config's lines over OPC UA with seeded values and injected faults."""
    if ctx.invoked_subcommand is not None:
        return
    if config is None:
        raise UserError("plantqc sim needs --config CFG (or a sub-command: record).")
    from plantqc.sim.server import LineSimulator

    loaded = load_config(config, check_env=False)
    plan = _plan(scenario, fault)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    simulator = LineSimulator(
        loaded.config, plan, seed=seed, tick_s=tick_ms / 1000, port=port, pki=pki
    )
    asyncio.run(_serve(simulator, duration))


async def _serve(simulator: LineSimulator, duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with simulator:
        for endpoint in simulator.endpoints:
            typer.echo(f"serving {endpoint}", err=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)


@app.command("record")
def record(
    config: PlantConfigOption,
    hours: Annotated[float, typer.Option("--hours", min=0.001, help="Length of history, h.")],
    out: Annotated[Path, typer.Option("--out", help="Recording: .csv or .parquet.")],
    seed: SeedOption = 0,
    scenario: ScenarioOption = None,
    fault: FaultOption = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First sample time, ISO-8601 (default: HOURS before now)."),
    ] = None,
    tick_ms: TickMsOption = 100,
) -> None:
    """Write the scalar tags' simulated history (the replay format) as fast as the model steps."""
    from plantqc.export import status_text, write_recording
    from plantqc.sim.record import record as simulate

    loaded = load_config(config, check_env=False)
    plan = _plan(scenario, fault)
    first = parse_time(start, "--start") or (
        datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    )
    fmt = "parquet" if out.suffix.lower() == ".parquet" else "csv"
    histories = simulate(
        loaded.config, plan, seed=seed, hours=hours, start=first, tick_s=tick_ms / 1000
    )
    import pandas as pd

    frames = [
        pd.DataFrame(
            {
                "line": line,
                "tag": tag,
                "source_time": pd.to_datetime(h.times, utc=True),
                "value": h.values,
                "status": [status_text(code) for code in h.statuses],
            }
        )
        for (line, tag), h in histories.items()
    ]
    try:
        with out.open("wb") as handle:
            rows = write_recording(frames, fmt, handle)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}.") from None
    typer.echo(
        f"wrote {rows} sample(s) of {len(histories)} tag(s), {hours:g} h from "
        f"{first.isoformat()}, to {out}",
        err=True,
    )
