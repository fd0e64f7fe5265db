"""`plantqc demo`: the simulator with a known drift, the daemon storing it on SQLite, a summary.

Runs everything in one process on loopback: the casting line of ``examples/casting.yaml``
served by the built-in simulator (a free port), a drift of the dry thickness starting at a
known time, a Bad-quality period of the dew point sensor, and the daemon storing all of it in
a SQLite file in a fresh folder.  Prints what was stored, per tag.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import case, func, select

from plantqc.config import load_config
from plantqc.errors import UserError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "casting.yaml"
DRIFT_TAG = "dry_thickness_um"
DRIFT_SIGMA_PER_MIN = 6.0


@dataclass(frozen=True)
class TagSummary:
    """What the demo stored for one tag."""

    tag: str
    samples: int
    bad_or_uncertain: int
    mean: float | None


@dataclass(frozen=True)
class DemoResult:
    """The demo's figures, printed as a table or JSON."""

    folder: str
    database: str
    seconds: float
    drift_tag: str
    drift_onset: str
    drift_sigma_per_min: float
    samples_stored: int
    profiles_stored: int
    lots: list[str]
    rolls: list[str]
    mean_before_onset: float | None
    mean_after_onset: float | None
    tags: list[TagSummary]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo(
    seconds: Annotated[
        float, typer.Option("--seconds", min=5, max=3600, help="How long to run, s.")
    ] = 20.0,
    folder: Annotated[
        Path | None, typer.Option("--out", help="Folder for the database (default: a temp dir).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Simulate a casting line with a known thickness drift and store it end to end."""
    if not EXAMPLE.is_file():
        raise UserError(f"the demo needs {EXAMPLE}, which is missing from this installation.")
    out = folder or Path(tempfile.mkdtemp(prefix="plantqc-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(_run(out.resolve(), seconds))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        _print(result)


async def _run(out: Path, seconds: float) -> DemoResult:
    from plantqc.daemon import Daemon
    from plantqc.sim.scenario import Fault, Scenario
    from plantqc.sim.server import LineSimulator

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    port = _free_port()
    text = EXAMPLE.read_text(encoding="utf-8").replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    text = text.replace("sqlite:///plantqc.db", f"sqlite:///{out / 'plantqc.db'}")
    text += f"\ndaemon:\n  metrics_port: 0\n  buffer_path: {out / 'buffer.sqlite'}\n"
    config_path = out / "casting.yaml"
    config_path.write_text(text, encoding="utf-8")
    loaded = load_config(config_path)
    onset_s = round(seconds * 0.4, 1)
    scenario = Scenario(
        faults=[
            Fault(kind="drift", tag=DRIFT_TAG, start_s=onset_s, magnitude=DRIFT_SIGMA_PER_MIN),
            Fault(
                kind="bad",
                tag="dryer_zone1_temp_c",
                start_s=seconds * 0.2,
                duration_s=seconds * 0.2,
            ),
        ],
        roll_length_s=max(seconds / 4, 1.0),
        rolls_per_lot=2,
    )
    simulator = LineSimulator(loaded.config, scenario, seed=42, tick_s=0.1)
    await simulator.start()
    try:
        assert simulator.started_at is not None
        onset = simulator.started_at + timedelta(seconds=onset_s)
        await Daemon(loaded).run(seconds)
    finally:
        await simulator.stop()
    return _summarise(loaded.storage_url(), out, seconds, onset)


def _summarise(url: str, out: Path, seconds: float, onset: datetime) -> DemoResult:
    from plantqc.quality import GOOD_BELOW
    from plantqc.store import open_engine
    from plantqc.store.models import Lot, Profile, Roll, Sample, Tag

    engine = open_engine(url)
    with engine.connect() as db:
        rows = db.execute(
            select(
                Tag.name,
                func.count(Sample.ts),
                func.sum(case((Sample.status >= GOOD_BELOW, 1), else_=0)),
                func.avg(Sample.value),
            )
            .join(Sample, Sample.tag_id == Tag.id)
            .group_by(Tag.name)
            .order_by(Tag.name)
        ).all()
        profiles = db.execute(select(func.count()).select_from(Profile)).scalar_one()
        lots = list(db.execute(select(Lot.code).order_by(Lot.started_at)).scalars())
        rolls = list(db.execute(select(Roll.code).order_by(Roll.started_at)).scalars())
        drift_id = db.execute(select(Tag.id).where(Tag.name == DRIFT_TAG)).scalar_one()
        before, after = (
            db.execute(
                select(func.avg(Sample.value)).where(Sample.tag_id == drift_id, condition)
            ).scalar_one()
            for condition in (Sample.ts < onset, Sample.ts >= onset)
        )
    engine.dispose()
    tags = [
        TagSummary(name, int(n), int(bad or 0), float(mean) if mean is not None else None)
        for name, n, bad, mean in rows
    ]
    return DemoResult(
        folder=str(out),
        database=url,
        seconds=seconds,
        drift_tag=DRIFT_TAG,
        drift_onset=onset.astimezone(UTC).isoformat(),
        drift_sigma_per_min=DRIFT_SIGMA_PER_MIN,
        samples_stored=sum(t.samples for t in tags),
        profiles_stored=int(profiles),
        lots=lots,
        rolls=rolls,
        mean_before_onset=before,
        mean_after_onset=after,
        tags=tags,
    )


def _print(result: DemoResult) -> None:
    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"casting-1: {result.seconds:g} s simulated and stored")
    for column in ("tag", "samples", "bad/uncertain", "mean"):
        table.add_column(column, justify="left" if column == "tag" else "right")
    for tag in result.tags:
        mean = f"{tag.mean:.3f}" if tag.mean is not None else "-"
        table.add_row(tag.tag, str(tag.samples), str(tag.bad_or_uncertain), mean)
    console.print(table)
    console.print(
        f"stored {result.samples_stored} samples and {result.profiles_stored} thickness profiles; "
        f"lots {', '.join(result.lots)}; rolls {', '.join(result.rolls)}"
    )
    console.print(
        f"injected: {result.drift_tag} drifts {result.drift_sigma_per_min:g} sigma/min from "
        f"{result.drift_onset}; mean before {result.mean_before_onset:.3f}, "
        f"after {result.mean_after_onset:.3f}"
    )
    console.print("alarms: the SPC engine is not part of this build yet")
    console.print(f"database: {result.database}")
