"""`plantqc demo`: limits from recorded history, then the simulator live with known faults, the
daemon storing it on SQLite, a summary with each lot's report disposition.

Runs everything in one process on loopback.  First the demo establishes its control limits as
a quality engineer would: it records two hours of in-control history of the casting line of
``examples/casting.yaml`` (`plantqc sim record`, another seed than the live run's, ending just
before the live start), and freezes phase I limits from it for every chart that has enough
points (`plantqc limits freeze --from-file`); the other charts learn their baseline live
(all of them with ``--control closed``, which compares the MD loop's thickness 2-sigma).  The
history is kept as a file in the demo's folder, not stored: the engine would chart two hours
of samples before the live ones (and on learning limits, as they predate the frozen ones),
which is what ``plantqc replay`` is for.  Then the line runs live, served by the built-in
simulator (a free port), and the daemon stores all of it in a SQLite file in a fresh folder
while the SPC engine charts it.  The first lot runs without a fault; in the second the dry
thickness drifts, dryer zone 1 reads Bad for a while and the dryer-zone-3 sensor sticks, each
from a known fraction of the run.  Prints what was stored, per tag, the alarms raised, for each
injected fault how long after its onset it was flagged, and each lot's report disposition
(`plantqc report --lot`) with its reasons.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table
from sqlalchemy import case, func, select

from plantqc.config import load_config
from plantqc.errors import UserError
from plantqc.sim.scenario import CastingSim

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from plantqc.sim.scenario import Fault, Scenario

EXAMPLE = files("plantqc.examples") / "casting.yaml"
"""The example casting line: ``examples/`` in the source tree, package data when installed."""
DRIFT_TAG = "dry_thickness_um"
DRIFT_SIGMA_PER_MIN = 6.0
BAD_TAG = "dryer_zone1_temp_c"
STUCK_TAG = "dryer_zone3_temp_c"
STARTUP_FRACTION = 0.25
HISTORY_HOURS = 2.0
"""In-control history recorded before the live run, h: phase I data for every chart."""
HISTORY_SEED = 7
"""Seed of the recorded history: another stretch of the same line than the live run's 42."""
DEMO_USER = "plantqc-demo"
"""Who the demo's limits are frozen by, in their versions and the audit trail."""
FAULTED_LOT_FRACTION = 0.55
"""The second lot, the faulted one, starts at 55 % of the run (two rolls a lot), so that it
lasts to the end: a third lot would start at 110 %, after the run and its start-up."""
DEMO_LINE = CastingSim(die_to_gauge_m=0.2, scan_s=1.0)
"""``--control closed``: the physical casting line with a short web path (0.2 m at 2 m/min,
a 6 s dead time) so that the loop acts within the demo's seconds; disturbances as the
simulator has them, plus the demo's drift of the dry thickness."""


@dataclass(frozen=True)
class TagSummary:
    """What the demo stored for one tag."""

    tag: str
    samples: int
    bad_or_uncertain: int
    mean: float | None


@dataclass(frozen=True)
class AlarmSummary:
    """One alarm the engine raised during the demo."""

    tag: str | None
    code: str
    priority: str
    state: str
    count: int
    first_at: str


@dataclass(frozen=True)
class ScenarioDetection:
    """When an injected fault was flagged after its onset.

    A drift or step: by the first shift-signalling violation on a location chart of the tag; a
    Bad-quality period or a stuck sensor: by the tag's ``bad-quality`` / ``stuck`` sensor-fault
    alarm.  ``detected_at`` is the source time of the sample that signalled, ``delay_samples``
    counts the tag's stored samples from the onset up to and including it.  None when the fault
    was not detected within the run.
    """

    kind: str
    tag: str
    onset: str
    detected_at: str | None
    rule: str | None
    delay_samples: int | None
    delay_s: float | None


@dataclass(frozen=True)
class ControlComparison:
    """``--control closed``: the same seeded line run twice, MD loop off, then closed.

    ``md_2sigma_*_um`` is twice the standard deviation of the stored Good dry-thickness
    samples (the gauge's traverse means) of each run after its first quarter (start-up);
    ``moves`` counts the closed run's applied moves; ``reduction`` is ``1 - closed / open``.
    """

    md_2sigma_open_um: float | None
    md_2sigma_closed_um: float | None
    reduction: float | None
    moves: int
    open_database: str


@dataclass(frozen=True)
class EstablishedLimits:
    """The limits the demo froze before its live run, from its recorded history.

    ``frozen`` names each chart frozen (``LINE/TAG (chart)``); ``learning`` says, one sentence
    per chart, why one was not and so learns its baseline live.
    """

    history_file: str
    hours: float
    seed: int
    data_from: str
    data_to: str
    frozen: list[str]
    learning: list[str]


@dataclass(frozen=True)
class LotDisposition:
    """A lot's QC report as `plantqc report --lot` issues it: decision, reasons, where."""

    lot: str
    decision: str
    reasons: list[str]
    report: str


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
    alarms: list[AlarmSummary]
    scenarios: list[ScenarioDetection]
    limits: EstablishedLimits | None = None
    dispositions: list[LotDisposition] = field(default_factory=list)
    control: ControlComparison | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo(
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds",
            min=5,
            max=3600,
            help="How long to run, s; the second lot, from 55 %, has the faults, and its stuck "
            "sensor needs 30 s to show.",
        ),
    ] = 90.0,
    folder: Annotated[
        Path | None, typer.Option("--out", help="Folder for the database (default: a temp dir).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    control: Annotated[
        str,
        typer.Option(
            "--control",
            help="off: the demo as always; closed: the physical casting line run twice with "
            "the same seed, MD loop off then closed, and the thickness 2-sigma of each.",
        ),
    ] = "off",
) -> None:
    """Simulate a casting line with a known thickness drift and store it end to end."""
    if control not in ("off", "closed"):
        raise UserError(f"--control {control!r} is not one of off, closed.")
    if not EXAMPLE.is_file():
        raise UserError(f"the demo needs {EXAMPLE}, which is missing from this installation.")
    out = folder or Path(tempfile.mkdtemp(prefix="plantqc-demo-"))
    out.mkdir(parents=True, exist_ok=True)
    if control == "closed":
        result = asyncio.run(_compare(out.resolve(), seconds))
    else:
        result = asyncio.run(_run(out.resolve(), seconds))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        _print(result)


async def _run(out: Path, seconds: float, md_mode: str | None = None) -> DemoResult:
    """One demo run; with ``md_mode`` on the physical casting line (`DEMO_LINE`), its MD loop
    in that mode."""
    from plantqc.daemon import Daemon
    from plantqc.engine_process import EngineProcess
    from plantqc.sim.server import LineSimulator

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("plantqc.control.runtime").setLevel(logging.ERROR)
    port = _free_port()
    text = EXAMPLE.read_text(encoding="utf-8").replace("127.0.0.1:4840", f"127.0.0.1:{port}")
    text = text.replace("sqlite:///plantqc.db", f"sqlite:///{out / 'plantqc.db'}")
    text += f"\ndaemon:\n  metrics_port: 0\n  buffer_path: {out / 'buffer.sqlite'}\n"
    doc = yaml.safe_load(text)
    # no camera or microscope feeds the demo: its image inputs would only hold every lot's
    # report for image data that never comes
    del doc["images"]
    if md_mode is not None:
        _demo_loop(doc, md_mode)
    config_path = out / "casting.yaml"
    config_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    loaded = load_config(config_path)
    scenario = demo_scenario(seconds) if md_mode is None else control_scenario(seconds)
    # the MD-loop comparison is about thickness 2-sigma, not alarms: its charts learn live
    limits = _establish_limits(config_path, scenario, out) if md_mode is None else None
    simulator = LineSimulator(loaded.config, scenario, seed=42, tick_s=0.1)
    await simulator.start()
    try:
        assert simulator.started_at is not None
        started_at = simulator.started_at
        spc = EngineProcess(loaded.storage_url(), config=loaded.config)
        try:
            await Daemon(loaded, on_stored=spc, on_tick=spc.tick).run(seconds)
        finally:
            spc.close()
    finally:
        await simulator.stop()
    result = _summarise(loaded.storage_url(), out, seconds, started_at, scenario)
    return replace(result, limits=limits, dispositions=_dispositions(config_path, result.lots, out))


def _establish_limits(config_path: Path, scenario: Scenario, out: Path) -> EstablishedLimits:
    """Record `HISTORY_HOURS` of the line in control ending now (``plantqc sim record``, the
    live ``scenario`` without its faults) to ``history.parquet`` in ``out`` and freeze phase I
    limits from it (``plantqc limits freeze --from-file``) for every chart with enough points;
    the others learn live."""
    from plantqc.charting.catalog import load_charts
    from plantqc.cli.limits_cmd import freeze_file
    from plantqc.cli.options import open_store
    from plantqc.cli.sim_cmd import record

    history = out / "history.parquet"
    plan = out / "history-scenario.yaml"
    in_control = scenario.model_copy(update={"faults": []}).model_dump(mode="json")
    plan.write_text(yaml.safe_dump(in_control, sort_keys=False), encoding="utf-8")
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(hours=HISTORY_HOURS)
    record(
        config=config_path,
        hours=HISTORY_HOURS,
        out=history,
        seed=HISTORY_SEED,
        scenario=plan,
        fault=None,
        start=start.isoformat(),
        tick_ms=100,
    )
    engine, loaded = open_store(None, config_path)
    assert loaded is not None
    try:
        recording, found, versions = freeze_file(engine, history, loaded.config, DEMO_USER)
        charts = load_charts(engine).values()
    finally:
        engine.dispose()
    why = {(c.line, c.tag): str(e) for c, e in found if isinstance(e, UserError)}
    learning = [
        why.get((c.line, c.tag))
        or f"{c.line}/{c.tag} ({', '.join(s.name for s in c.series)}) is not in the recorded "
        "history (a recording holds the scalar tags of the line only)"
        for c in charts
        if f"{c.line}/{c.tag}" not in versions
    ]
    frozen = [f"{c.line}/{c.tag} ({e.chart})" for c, e in found if not isinstance(e, UserError)]
    assert recording.span is not None  # freeze_file refuses a recording without rows
    return EstablishedLimits(
        history_file=str(history),
        hours=HISTORY_HOURS,
        seed=HISTORY_SEED,
        data_from=recording.span[0].isoformat(),
        data_to=recording.span[1].isoformat(),
        frozen=frozen,
        learning=learning,
    )


def _dispositions(config_path: Path, lots: list[str], out: Path) -> list[LotDisposition]:
    """Each lot's QC report, issued as ``plantqc report --lot LOT --out reports/LOT`` issues
    it, with its decision and reasons."""
    from plantqc.cli.options import open_store
    from plantqc.reports.issue import REPORT_JSON, generate_report

    engine, loaded = open_store(None, config_path)
    found = []
    try:
        for lot in lots:
            issued = generate_report(engine, lot, out / "reports" / lot, loaded=loaded)
            doc = json.loads((issued.folder / REPORT_JSON).read_text(encoding="utf-8"))
            reasons = [r["reason"] for r in doc["disposition"]["reasons"]]
            found.append(LotDisposition(lot, issued.disposition, reasons, str(issued.html)))
    finally:
        engine.dispose()
    return found


def _demo_loop(doc: dict[str, Any], md_mode: str) -> None:
    """Put the MD loop of the example config ``doc`` in ``md_mode``, tuned for `DEMO_LINE`."""
    loop = doc["lines"][0]["control"]["md"]
    loop.update(mode=md_mode, period_s=DEMO_LINE.scan_s)
    # effective dead time: transport L / U plus one traverse (Skogestad's half rule, twice)
    speed = loop["model"]["at_speed_m_min"]
    deadtime = DEMO_LINE.die_to_gauge_m / (speed / 60.0) + DEMO_LINE.scan_s
    loop["model"]["deadtime_s"] = deadtime
    # the demo's rolls last seconds: a short settling hold, or the loop would always be held
    loop["supervisor"].update(die_to_gauge_m=DEMO_LINE.die_to_gauge_m, settling_s=2.0)


async def _compare(out: Path, seconds: float) -> DemoResult:
    """The same seeded line twice, MD loop off then closed; the closed run's result with
    both thickness 2-sigmas."""
    (out / "open").mkdir(exist_ok=True)
    (out / "closed").mkdir(exist_ok=True)
    opened = await _run(out / "open", seconds, "off")
    closed = await _run(out / "closed", seconds, "closed")
    two_open = _two_sigma(opened.database, seconds)
    two_closed = _two_sigma(closed.database, seconds)
    reduction = 1.0 - two_closed / two_open if two_open and two_closed is not None else None
    comparison = ControlComparison(two_open, two_closed, reduction, _moves(closed.database),
                                   opened.database)  # fmt: skip
    return replace(closed, control=comparison)


def _two_sigma(url: str, seconds: float) -> float | None:
    """2 sigma of the stored Good dry-thickness samples after the start-up (the first
    `STARTUP_FRACTION` of the run, while the closed loop pulls the line onto target), um;
    None with fewer than 2."""
    import statistics

    from plantqc.quality import GOOD_BELOW
    from plantqc.store import open_engine
    from plantqc.store.models import Sample, Tag

    engine = open_engine(url)
    with engine.connect() as db:
        rows = db.execute(
            select(Sample.ts, Sample.value)
            .join(Tag, Tag.id == Sample.tag_id)
            .where(Tag.name == DRIFT_TAG, Sample.status < GOOD_BELOW)
            .order_by(Sample.ts)
        ).all()
    engine.dispose()
    if not rows:
        return None
    since = rows[0].ts + timedelta(seconds=STARTUP_FRACTION * seconds)
    values = [r.value for r in rows if r.ts >= since]
    return 2.0 * statistics.stdev(values) if len(values) >= 2 else None


def _moves(url: str) -> int:
    from plantqc.store import open_engine
    from plantqc.store.models import ControlMove

    engine = open_engine(url)
    with engine.connect() as db:
        n = db.execute(
            select(func.count()).select_from(ControlMove).where(ControlMove.kind == "applied")
        ).scalar_one()
    engine.dispose()
    return int(n)


def demo_scenario(seconds: float) -> Scenario:
    """The demo's faults, timed as fractions of the run: two rolls a lot, the first lot
    without a fault, the second (from `FAULTED_LOT_FRACTION`) with all three, started soon
    enough that each shows within it."""
    from plantqc.sim.scenario import Fault, Scenario

    def at(fraction: float) -> float:
        return round(seconds * fraction, 1)

    return Scenario(
        faults=[
            Fault(kind="drift", tag=DRIFT_TAG, start_s=at(0.58), magnitude=DRIFT_SIGMA_PER_MIN),
            Fault(kind="bad", tag=BAD_TAG, start_s=at(0.62), duration_s=at(0.12)),
            Fault(kind="stuck", tag=STUCK_TAG, start_s=at(0.58)),
        ],
        roll_length_s=max(seconds * FAULTED_LOT_FRACTION / 2, 1.0),
        rolls_per_lot=2,
    )


def control_scenario(seconds: float) -> Scenario:
    """``--control closed``: the physical casting line (`DEMO_LINE`), a new roll (a fresh
    slurry batch) every quarter of the run, and the faults timed as when the README's figures
    of the comparison were measured: the drift from 40 %, a lasting upset for the MD loop to
    work against."""
    from plantqc.sim.scenario import Fault, Scenario

    def at(fraction: float) -> float:
        return round(seconds * fraction, 1)

    return Scenario(
        faults=[
            Fault(kind="drift", tag=DRIFT_TAG, start_s=at(0.4), magnitude=DRIFT_SIGMA_PER_MIN),
            Fault(kind="bad", tag=BAD_TAG, start_s=at(0.2), duration_s=at(0.2)),
            Fault(kind="stuck", tag=STUCK_TAG, start_s=at(0.3), duration_s=at(0.6)),
        ],
        roll_length_s=max(seconds / 4, 1.0),
        rolls_per_lot=2,
        casting=DEMO_LINE,
    )


def _summarise(
    url: str, out: Path, seconds: float, started_at: datetime, scenario: Scenario
) -> DemoResult:
    from plantqc.quality import GOOD_BELOW
    from plantqc.store import open_engine
    from plantqc.store.models import Lot, Profile, Roll, Sample, Tag

    drift = scenario.faults[0]
    onset = started_at + timedelta(seconds=drift.start_s)
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
        alarms = _alarms(db)
        detections = [
            _detection(db, fault, started_at + timedelta(seconds=fault.start_s))
            for fault in scenario.faults
        ]
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
        alarms=alarms,
        scenarios=detections,
    )


# rules that signal a shift of the mean; Nelson 7 (stratification: too little variation for
# the limits) and 4 (alternation) do not
_SHIFT_RULES = (
    "nelson1", "nelson2", "nelson3", "nelson5", "nelson6", "nelson8",
    "we1", "we2", "we3", "we4",
)  # fmt: skip
# the sensor-fault alarm that flags each kind of injected sensor fault
_FAULT_ALARMS = {"bad": "bad-quality", "stuck": "stuck"}


def _alarms(db: Connection) -> list[AlarmSummary]:
    from plantqc.store.models import Alarm, Tag

    names = dict(db.execute(select(Tag.id, Tag.name)).all())
    return [
        AlarmSummary(names.get(a.tag_id), a.code, a.priority, a.state, a.count,
                     a.first_at.isoformat())
        for a in db.execute(
            select(Alarm.tag_id, Alarm.code, Alarm.priority, Alarm.state, Alarm.count,
                   Alarm.first_at).order_by(Alarm.first_at)
        ).all()
    ]  # fmt: skip


def _detection(db: Connection, fault: Fault, onset: datetime) -> ScenarioDetection:
    """When ``fault``, injected at ``onset``, was first flagged on its tag (see
    `ScenarioDetection`)."""
    from plantqc.alarms import SENSOR_FAULT_KIND
    from plantqc.charting.names import CUSUM_SIDES, LOCATION_POINTS
    from plantqc.store.models import Alarm, Sample, Tag, Violation

    assert fault.tag is not None  # the demo's faults each act on one tag
    tag_id = db.execute(select(Tag.id).where(Tag.name == fault.tag)).scalar_one()
    first: tuple[datetime, str] | None
    if fault.kind in _FAULT_ALARMS:
        code = _FAULT_ALARMS[fault.kind]
        at = db.execute(
            select(func.min(Alarm.first_at)).where(
                Alarm.tag_id == tag_id,
                Alarm.kind == SENSOR_FAULT_KIND,
                Alarm.code == code,
                Alarm.first_at >= onset,
            )
        ).scalar_one()
        first = (at, code) if at is not None else None
    else:
        row = db.execute(
            select(Violation.ts, Violation.rule)
            .where(
                Violation.tag_id == tag_id,
                Violation.ts >= onset,
                Violation.chart.in_(sorted(LOCATION_POINTS | CUSUM_SIDES)),
                Violation.rule.in_(_SHIFT_RULES),
            )
            .order_by(Violation.ts)
            .limit(1)
        ).first()
        first = (row.ts, row.rule) if row is not None else None
    if first is None:
        return ScenarioDetection(fault.kind, fault.tag, onset.isoformat(), None, None, None, None)
    at, rule = first
    delay = db.execute(
        select(func.count()).where(Sample.tag_id == tag_id, Sample.ts >= onset, Sample.ts <= at)
    ).scalar_one()
    return ScenarioDetection(
        kind=fault.kind,
        tag=fault.tag,
        onset=onset.isoformat(),
        detected_at=at.isoformat(),
        rule=rule,
        delay_samples=int(delay),
        delay_s=(at - onset).total_seconds(),
    )


def _print(result: DemoResult) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if result.limits is not None:
        limits = result.limits
        console.print(
            f"limits: {len(limits.frozen)} chart(s) frozen by {DEMO_USER} from {limits.hours:g} h "
            f"of recorded in-control history (seed {limits.seed}, {limits.data_from} to "
            f"{limits.data_to}, {limits.history_file}): " + ", ".join(limits.frozen),
            markup=False,
        )
        for sentence in limits.learning:
            console.print(f"learning live: {sentence.rstrip('.')}", markup=False)
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
    console.print(
        f"alarms: {len(result.alarms)} raised ("
        + ", ".join(f"{a.tag} {a.code} x{a.count}" for a in result.alarms)
        + ")"
    )
    for s in result.scenarios:
        if s.detected_at is None:
            console.print(f"{s.kind} on {s.tag} from {s.onset}: not detected within the run")
        else:
            console.print(
                f"{s.kind} on {s.tag} from {s.onset}: detected by {s.rule} at {s.detected_at}, "
                f"{s.delay_samples} samples / {s.delay_s:.1f} s after onset"
            )
    for lot in result.dispositions:
        console.print(f"{lot.lot}: {lot.decision.upper()} ({lot.report})", markup=False)
        for reason in lot.reasons:
            console.print(f"  {reason}", markup=False)
    if result.control is not None:
        c = result.control

        def um(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f} um"

        console.print(
            f"thickness 2-sigma, MD loop off: {um(c.md_2sigma_open_um)}; closed: "
            f"{um(c.md_2sigma_closed_um)}"
            + (f" (reduction {c.reduction:.2f})" if c.reduction is not None else "")
            + f"; {c.moves} pump moves written through OPC UA"
        )
        console.print(f"open-loop run's database: {c.open_database}")
    console.print(f"database: {result.database}")
