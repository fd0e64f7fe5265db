"""`plantqc replay FILE`: recorded samples through the daemon's input -> buffer -> store ->
engine path, with their source times, paced or as fast as the engine goes."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from plantqc.cli.options import PlantConfigOption, StorageDbOption
from plantqc.cli.run_cmd import run_daemon
from plantqc.config import LoadedConfig, load_config
from plantqc.errors import UserError

if TYPE_CHECKING:
    from plantqc.connectors import Input, ReadingSink
    from plantqc.daemon import Daemon

FOREVER_S = 7 * 24 * 3600.0
"""The daemon's shutdown drain bound in a replay: it stores everything the file holds."""


def parse_speed(text: str) -> float | str:
    """``max`` or a positive factor of real time."""
    if text.strip().lower() == "max":
        return "max"
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise UserError(f"--speed {text!r} is not 'max' or a positive factor of real time.")
    return speed


def replay_config(loaded: LoadedConfig) -> LoadedConfig:
    """The config as a replay runs it: no camera folders watched and no notifier sending
    recorded alarms to people; the lines, tags and charts unchanged."""
    config = loaded.config.model_copy(
        update={
            "images": [],
            "lines": [line.model_copy(update={"notify": None}) for line in loaded.config.lines],
        }
    )
    return LoadedConfig(config, loaded.path, loaded.text)


def replay(
    file: Annotated[Path, typer.Argument(help="Recording: CSV, or .parquet (long form).")],
    config: PlantConfigOption,
    db: StorageDbOption = None,
    speed: Annotated[
        str | None,
        typer.Option(
            "--speed",
            help="'max', or a factor of real time (1, 10, 100 ...); default the config's "
            "replay.speed, else max.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning.")] = (
        "warning"
    ),
) -> None:
    """Replay a recorded file into the store: stored, charted and alarmed as if live."""
    from plantqc.connectors.replay import read_recording, replay_inputs

    pace = None if speed is None else parse_speed(speed)
    # no OPC UA server is reached: only the storage's variable matters, read when it is used
    loaded = load_config(config, check_env=False)
    settings = loaded.config.replay
    if pace is not None:
        settings = settings.model_copy(update={"speed": pace})
    scalar = {
        line.name: [tag.name for tag in line.tags if tag.kind == "scalar"]
        for line in loaded.config.lines
    }
    recording = read_recording(file, scalar)
    for sentence in recording.summary():
        typer.echo(sentence)
    if not recording.readings:
        raise UserError(f"{file} has no row to replay.")
    from plantqc.store import connect, upgrade

    # a replay has an end: a store it cannot use is one sentence now, not buffering forever
    store = connect(db or loaded.storage_url())
    try:
        upgrade(store)
    finally:
        store.dispose()
    daemon: list[Daemon] = []

    def backlog() -> int:
        return daemon[0].backlog if daemon else 0

    def inputs(sink: ReadingSink) -> list[Input]:
        return list(
            replay_inputs(
                recording,
                sink,
                speed=settings.speed,
                batch_rows=settings.batch_rows,
                backlog=backlog,
                max_backlog=settings.max_backlog,
            )
        )

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="plantqc-replay-") as folder:
        # a buffer of its own: a live daemon of the same config keeps its queue to itself
        status = run_daemon(
            replay_config(loaded),
            db=db,
            buffer=Path(folder) / "replay-buffer.sqlite",
            metrics_port=0,
            log_level=log_level,
            inputs=inputs,
            components=[],
            clock_checks=False,
            shutdown_drain_s=FOREVER_S,
            engine_wait_s=None,  # returns only once every replayed sample is charted
            started=daemon.append,
        )
    wall_s = time.monotonic() - began
    if status.buffer_depth:
        raise UserError(
            f"the replay stopped with {status.buffer_depth} sample(s) not stored (interrupted, "
            "or the database went away); run it again: stored samples are not duplicated."
        )
    if status.buffer_refused:
        raise UserError(
            f"the durable buffer refused {status.buffer_refused} sample(s) at its bound of "
            f"{status.buffer_capacity}; set replay.max_backlog below daemon.buffer_max_samples "
            "and replay again: stored samples are not duplicated."
        )
    stored = sum(line.stored for line in status.lines.values())
    span = recording.span
    assert span is not None
    recorded_s = (span[1] - span[0]).total_seconds()
    typer.echo(
        f"stored, charted and alarmed in {wall_s:.1f} s ({recorded_s / wall_s:.0f}x real "
        f"time): {stored} new sample(s) in the store (samples already stored are skipped; "
        "the daemon's buffer-depth figures are counted)"
    )
