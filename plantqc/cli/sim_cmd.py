"""`plantqc sim`: serve a config's lines from the built-in OPC UA simulator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from plantqc.config import load_config
from plantqc.sim.scenario import Scenario, load_scenario, parse_fault_flag

if TYPE_CHECKING:
    from plantqc.sim.server import LineSimulator


def sim(
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config YAML.")],
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Serve on this port.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the process model.")] = 0,
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="Scenario YAML with faults to inject.")
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="Extra fault KIND:TAG@START[+DURATION][=MAGNITUDE] (repeatable), "
            "e.g. drift:dry_thickness_um@60=1.",
        ),
    ] = None,
    tick_ms: Annotated[int, typer.Option("--tick-ms", min=1, help="Model step, ms.")] = 100,
    duration: Annotated[
        float | None, typer.Option("--duration", min=0.1, help="Stop after this many seconds.")
    ] = None,
    pki: Annotated[
        Path | None, typer.Option("--pki", help="Folder for the server certificate.")
    ] = None,
) -> None:
    """Serve the config's lines over OPC UA with seeded values and injected faults."""
    from plantqc.sim.server import LineSimulator

    loaded = load_config(config, check_env=False)
    base = load_scenario(scenario) if scenario else Scenario()
    extra = [parse_fault_flag(text) for text in fault or []]
    plan = base.model_copy(update={"faults": [*base.faults, *extra]})
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
