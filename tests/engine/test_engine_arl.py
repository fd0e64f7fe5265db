"""The EWMA chart through the engine performs as its design's ARL predicts.

Design: lambda = 0.1, L = 2.7 (Montgomery, Introduction to SQC 7th ed., Example 9.2).  The
predictions come from `spc.arl.ewma_arl` (Crowder 1987's integral equation, checked against
Montgomery Table 9.11 in tests/spc): ARL0 = 369 and ARL(1 sigma) = 9.7 samples for it.
"""

from __future__ import annotations

import numpy as np
from engine_helpers import feed, freeze
from sqlalchemy import Engine, String, cast, func, select, update
from sqlalchemy.orm import Session

from plantqc.charting.runner import SpcEngine
from plantqc.store import TagRef
from plantqc.store.engine_state import EngineState
from plantqc.store.models import Alarm, AuditLog, Violation
from spc.arl import ewma_arl

LAM, L = 0.1, 2.7
WARM_UP = 50  # samples before the shift: the exact limits have converged to the asymptotic ones
RUNS = 200
TOLERANCE = 0.10  # relative; the standard error of the mean of 200 run lengths is about 3 %


def test_a_one_sigma_shift_is_detected_within_the_predicted_arl(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["x_ewma"])  # mu0 = 10, sigma = 1
    tag = sqlite_tags["x_ewma"].tag_id
    engine = SpcEngine(sqlite_store)
    rng = np.random.default_rng(2026)
    delays = []
    for run in range(RUNS):
        start = run * 1000
        x = 10.0 + rng.standard_normal(WARM_UP + 60)  # P(no signal in 60) < 1e-6
        x[WARM_UP:] += 1.0
        times = feed(sqlite_store, tag, x, start=start)
        with Session(sqlite_store) as session, session.begin():  # a fresh chart per run
            session.execute(update(EngineState).where(EngineState.tag_id == tag).values(state={}))
        engine.process(tag)
        with Session(sqlite_store) as session:
            first = session.scalars(
                select(Violation.ts)
                .where(Violation.tag_id == tag, Violation.ts >= times[WARM_UP])
                .order_by(Violation.ts)
                .limit(1)
            ).one()
        delays.append(times.index(first) - WARM_UP + 1)
    predicted = ewma_arl(LAM, L, shift=1.0)
    print(f"mean delay {np.mean(delays):.2f} samples, predicted ARL {predicted:.2f}")
    assert abs(np.mean(delays) / predicted - 1.0) < TOLERANCE, (np.mean(delays), predicted)


def test_an_in_control_stream_of_100000_samples_alarms_no_more_than_arl0_implies(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    n = 100_000
    freeze(sqlite_store, sqlite_tags["x_ewma"])
    tag = sqlite_tags["x_ewma"].tag_id
    feed(sqlite_store, tag, 10.0 + np.random.default_rng(9).standard_normal(n))
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        # the EWMA's alarm raised, or re-raised after it returned to normal: what an operator
        # sees of the chart (the values beyond the spec 7 / 13 raise the spec alarm besides)
        ewma_alarms = select(cast(Alarm.id, String)).where(
            Alarm.tag_id == tag, Alarm.code == "nelson1"
        )
        raised = session.scalar(
            select(func.count()).where(
                AuditLog.action.in_(("alarm-raise", "alarm-reactivate")),
                AuditLog.entity_id.in_(ewma_alarms),
            )
        )
    expected = n / ewma_arl(LAM, L)
    print(f"{raised} alarms raised in {n} in-control samples; ARL0 implies {expected:.0f}")
    assert raised <= 1.2 * expected, (raised, expected)
