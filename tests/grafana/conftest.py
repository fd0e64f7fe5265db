"""A PostgreSQL holding a day of simulated casting-line data, shared by the Grafana tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from plantqc.alarms import AlarmEvent, apply_events
from plantqc.config import BUFFER_DEPTH_TAG, PlantConfig, SpecLimits, load_config
from plantqc.store import SampleRow, connect, insert_samples, sync_config, upgrade
from plantqc.store.models import (
    Alarm,
    ControlLimits,
    ControlLoop,
    ControlMove,
    DataGap,
    ImageResult,
    Lot,
    Tag,
    Violation,
)
from plantqc.store.samples import ProfileRow, insert_profiles

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
END = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
START = END - timedelta(days=1)
STEP_S = 10
BAD = 0x80000000


@pytest.fixture(scope="session")
def casting_config() -> PlantConfig:
    return load_config(EXAMPLES / "casting.yaml").config


def _center_and_spread(spec: SpecLimits | None) -> tuple[float, float]:
    """A capable process: centred on target (or 5 below a lone USL), sigma = tolerance / 8."""
    if spec is None:
        return 100.0, 10.0
    if spec.lsl is not None and spec.usl is not None:
        return (spec.target if spec.target is not None else (spec.lsl + spec.usl) / 2), (
            spec.usl - spec.lsl
        ) / 8
    return (spec.usl or 0.0) - 5.0, 1.0


def _simulate(engine: Engine, config: PlantConfig) -> None:
    """A day of the casting line: every scalar tag every 10 s, profiles, lots, images, alarms."""
    rng = np.random.default_rng(20261122)
    line = config.lines[0]
    tag_ids = {name: ref.tag_id for (_, name), ref in sync_config(engine, config).items()}
    line_id = next(iter(sync_config(engine, config).values())).line_id
    with Session(engine) as session, session.begin():
        depth = Tag(line_id=line_id, name=BUFFER_DEPTH_TAG, node_id="plantqc:daemon", kind="scalar")
        session.add(depth)
        session.flush()
        tag_ids[BUFFER_DEPTH_TAG] = depth.id
    n = int((END - START).total_seconds() // STEP_S) + 1
    times = [START + timedelta(seconds=STEP_S * i) for i in range(n)]
    rows: list[SampleRow] = []
    for tag in [*line.tags, None]:
        name = tag.name if tag else BUFFER_DEPTH_TAG
        if tag is not None and tag.kind != "scalar":
            continue
        spec = tag.spec if tag else None
        target, sd = _center_and_spread(spec)
        values = target + sd * rng.standard_normal(n)
        tid = tag_ids[name]
        rows += [
            SampleRow(tid, ts, float(v), BAD if i % 97 == 0 else 0)
            for i, (ts, v) in enumerate(zip(times, values, strict=True))
        ]
    insert_samples(engine, rows)
    profile = tag_ids["dry_thickness_profile_um"]
    # a scan a minute, every 7th Bad and far off, which no Good mean may include
    insert_profiles(
        engine,
        [
            ProfileRow(profile, ts, list(50 + rng.standard_normal(16)))
            if i % 7
            else ProfileRow(profile, ts, [500.0] * 16, BAD)
            for i, ts in enumerate(times[::6])
        ],
    )
    web = tag_ids["web_speed_m_min"]
    web_chart = line.tag("web_speed_m_min").spc.chart  # type: ignore[union-attr]
    with Session(engine) as session, session.begin():
        lot = Lot(line_id=line_id, code="LOT-0001", product=line.product, started_at=START)
        session.add(lot)
        session.flush()
        session.add_all(
            [
                ControlLimits(
                    tag_id=web,
                    chart=web_chart,
                    version=1,
                    basis="phase1",
                    center=2.0,
                    lcl=1.85,
                    ucl=2.15,
                    sigma=0.05,
                    valid_from=START - timedelta(days=1),
                ),
                ControlLimits(
                    tag_id=web,
                    chart=web_chart,
                    version=2,
                    basis="phase1",
                    center=2.01,
                    lcl=1.86,
                    ucl=2.16,
                    sigma=0.05,
                    valid_from=START + timedelta(hours=12),
                ),
                Violation(
                    tag_id=web,
                    chart="imr",
                    rule="nelson-1",
                    ts=END - timedelta(minutes=30),
                    value=2.3,
                    points={"index": [0]},
                ),
                Alarm(
                    line_id=line_id,
                    tag_id=web,
                    kind="spc",
                    code="nelson-1",
                    priority="high",
                    message="web speed beyond UCL",
                    first_at=END - timedelta(minutes=30),
                    last_at=END - timedelta(minutes=20),
                ),
                DataGap(  # the daemon came back to a node without history
                    tag_id=web,
                    gap_from=END - timedelta(minutes=40),
                    gap_to=END - timedelta(minutes=39, seconds=48),
                    reason="the server keeps no history of this node",
                ),
                ImageResult(
                    line_id=line_id,
                    lot_id=lot.id,
                    input_name="casting-1-sem-topview",
                    analysis="particles",
                    path="a.tif",
                    sha256="0" * 64,
                    captured_at=END - timedelta(minutes=10),
                    status="ok",
                    metrics={
                        "agglomerates": {"area_fraction": 0.012},
                        "dispersion": {"morisita_index": 1.3},
                        "loading": {"wt_pct": 19.2, "nominal_wt_pct": 20.0},
                    },
                ),
            ]
        )
    _control(engine)
    _alarm_histories(engine, line_id, tag_ids)


def _alarm_histories(engine: Engine, line_id: int, tag_ids: dict[str, int]) -> None:
    """Alarms through the engine's own path, so the audit trail holds their histories:
    dew_point_c's Nelson 2 raised 12 times 20 s apart from 25 min before the end (a flood in
    one 10-minute period, and chattering), web speed's WE 2 raised 50 min before the end and
    again 5 min before it, dry thickness' Nelson 1 raised once 10 h before the end."""

    def fired(kind: str, code: str, before: timedelta) -> AlarmEvent:
        return AlarmEvent(kind, code, END - before, message=code)

    flood = END - timedelta(minutes=25)
    histories = {
        "dew_point_c": [
            fired(kind, "nelson-2", END - flood - timedelta(seconds=20 * i + dt))
            for i in range(12)
            for kind, dt in (("raise", 0), ("clear", 10))
        ],
        "web_speed_m_min": [
            fired("raise", "we-2", timedelta(minutes=50)),
            fired("clear", "we-2", timedelta(minutes=49)),
            fired("raise", "we-2", timedelta(minutes=5)),
        ],
        "dry_thickness_um": [
            fired("raise", "nelson-1", timedelta(hours=10)),
            fired("clear", "nelson-1", timedelta(hours=10, seconds=-10)),
        ],
    }
    with Session(engine) as session, session.begin():
        for tag, events in histories.items():
            apply_events(session, line_id, tag_ids[tag], events)


MD_MOVES = [  # minutes before END, old, new: one before the last hour, two inside it
    (23 * 60, 20.0, 19.8),
    (50, 19.8, 20.3),
    (30, 20.3, 20.4),
]
CD_SETPOINT = [0.5, -0.5, 1.0, 0.0]


def _control(engine: Engine) -> None:
    """The MD loop closed, with applied moves and a proposal; a CD loop advisory and held."""

    def at(minutes: float) -> datetime:
        return END - timedelta(minutes=minutes)

    md, cd = "casting-1.md", "casting-1.cd"
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                ControlLoop(loop=md, line="casting-1", mode="closed", mode_by="alice",
                            setpoint=20.4, measured=50.02, hold=None, updated=END),
                ControlLoop(loop=cd, line="casting-1", mode="advisory", mode_by="alice",
                            setpoint=CD_SETPOINT, measured=None, hold="gauge sensor fault",
                            updated=END),
            ]
        )  # fmt: skip
        session.flush()
        moves = [
            ControlMove(loop=md, at=at(m), kind="applied", old=old, new=new,
                        reason="controller", user="plantqc", status="done")
            for m, old, new in MD_MOVES
        ] + [
            ControlMove(loop=md, at=at(10), kind="held", old=None, new=None,
                        reason="line stopped", user="plantqc", status="done"),
            ControlMove(loop=cd, at=at(20), kind="applied", old=[0.0] * 4, new=CD_SETPOINT,
                        reason="accepted by alice", user="alice", status="done"),
            ControlMove(loop=cd, at=at(5), kind="proposed", old=CD_SETPOINT,
                        new=[0.4, -0.4, 0.9, 0.1], reason="controller", user="plantqc",
                        status="pending"),
        ]  # fmt: skip
        session.add_all(moves)


@pytest.fixture(scope="module")
def grafana_db(pg_admin_url: str, casting_config: PlantConfig) -> Iterator[Engine]:
    """A database migrated to head and filled by `_simulate`, for one test module."""
    admin = make_url(pg_admin_url)
    name = f"plantqc_grafana_{uuid.uuid4().hex[:10]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = connect(admin.set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        _simulate(engine, casting_config)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
