"""Helpers of the engine tests: the test line's config, and storing a series of samples."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.catalog import chart_for
from plantqc.charting.limits import limit_lines
from plantqc.charting.phase1 import LimitsEstimate, freeze_limits
from plantqc.store import SampleRow, TagRef, insert_profiles, insert_samples
from plantqc.store.models import Violation
from plantqc.store.samples import ProfileRow

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
FROZEN_FROM = datetime(2026, 1, 1, tzinfo=UTC)
"""When `freeze`'s limits come into force: before every sample of a test."""

# spec 7 / 10 / 13, and for the tests that judge against limits, limits frozen at center 10,
# sigma 1 (`freeze`): the design of Montgomery's Examples 9.1 (CUSUM) and 9.2 (EWMA), whose
# I chart limits 7 / 13 are the spec limits
CONFIG = """
plant: {site: test-site, area: films}
lines:
  - name: line-1
    kind: casting
    opcua: {endpoint: "opc.tcp://127.0.0.1:4840/"}
    tags:
      - {name: x_imr, node_id: "ns=2;s=a", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: imr, rules: nelson}}
      - {name: x_imr_b, node_id: "ns=2;s=b", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: imr, rules: nelson}}
      - {name: x_xbar, node_id: "ns=2;s=c", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: xbar-r, subgroup_size: 5, rules: we}}
      - {name: x_xbar_b, node_id: "ns=2;s=d", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: xbar-r, subgroup_size: 5, rules: we}}
      - {name: x_ewma, node_id: "ns=2;s=e", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: ewma, ewma: {lambda: 0.1, L: 2.7}}}
      - {name: x_ewma_b, node_id: "ns=2;s=f", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: ewma, ewma: {lambda: 0.1, L: 2.7}}}
      - {name: x_cusum, node_id: "ns=2;s=g", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: cusum, cusum: {k: 0.5, h: 5}}}
      - {name: x_cusum_b, node_id: "ns=2;s=gb", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: cusum, cusum: {k: 0.5, h: 5}}}
      - {name: no_spec, node_id: "ns=2;s=h", spc: {chart: imr}}
      - {name: no_spec_xbar, node_id: "ns=2;s=hx", spc: {chart: xbar-r, subgroup_size: 5}}
      - {name: x_prio, node_id: "ns=2;s=i", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: imr, alarm_priority: low, rule_priority: {nelson1: critical},
               alarms: [nelson1, nelson2, "mr:nelson1"]}}
      - {name: x_spread, node_id: "ns=2;s=j", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: imr, alarms: [nelson1, nelson2, "mr:nelson1", spec]}}
      - {name: x_wide, node_id: "ns=2;s=k", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: imr, limit_sigma: 3.5}}
      - {name: x_wide_xbar, node_id: "ns=2;s=kx",
         spc: {chart: xbar-r, subgroup_size: 4, limit_sigma: 3.5}}
      - {name: x_small, node_id: "ns=2;s=l", spc: {chart: imr, baseline_points: 20}}
  - name: line-2
    kind: casting
    opcua: {endpoint: "opc.tcp://127.0.0.1:4841/"}
    running: {tag: speed, above: 0.1}
    tags:
      - {name: speed, node_id: "ns=2;s=speed"}
      - {name: z, node_id: "ns=2;s=z", sampling_interval_ms: 100,
         spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: imr, faults: {bad_run: 3, stuck_run: 0, silent_intervals: 10},
               alarms: [nelson1, "mr:nelson1", spec]}}
      - {name: z_stuck, node_id: "ns=2;s=zs", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: imr, faults: {stuck_run: 5}}}
      - {name: z_stuck_ewma, node_id: "ns=2;s=zse", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: ewma, ewma: {lambda: 0.1, L: 2.7}, faults: {stuck_run: 5}}}
      - {name: z_time, node_id: "ns=2;s=zt", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: xbar-s, subgroup_by: time, subgroup_window_s: 10}}
      - {name: z_time_b, node_id: "ns=2;s=ztb", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: xbar-s, subgroup_by: time, subgroup_window_s: 10}}
      - {name: z_time_no_spec, node_id: "ns=2;s=ztn",
         spc: {chart: xbar-s, subgroup_by: time, subgroup_window_s: 10}}
      - {name: z_roll, node_id: "ns=2;s=zr", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: ewma, subgroup_by: roll, ewma: {lambda: 0.2, L: 2.86}}}
      - {name: z_roll_b, node_id: "ns=2;s=zrb", spec: {lsl: 7, target: 10, usl: 13},
         spc: {chart: ewma, subgroup_by: roll, ewma: {lambda: 0.2, L: 2.86}}}
      - {name: cd, node_id: "ns=2;s=cd", kind: profile, spec: {lsl: 47, target: 50, usl: 53},
         spc: {chart: ewma, ewma: {lambda: 0.2, L: 2.86},
               profile_statistics: [mean, two_sigma, range], faults: {stuck_run: 0},
               alarms: [nelson1, spec, "cd_2sigma:nelson1"]}}
      - {name: cd_b, node_id: "ns=2;s=cdb", kind: profile, spec: {lsl: 47, target: 50, usl: 53},
         spc: {chart: ewma, ewma: {lambda: 0.2, L: 2.86},
               profile_statistics: [mean, two_sigma, range], faults: {stuck_run: 0}}}
      - {name: lot_id, node_id: "ns=2;s=lot", kind: lot_id}
      - {name: roll_id, node_id: "ns=2;s=roll", kind: roll_id}
"""


def feed(
    engine: Engine,
    tag_id: int,
    values: Sequence[float],
    *,
    start: float = 0,
    status: Sequence[int] | None = None,
    t0: datetime = T0,
) -> list[datetime]:
    """Store ``values`` one second apart from ``t0 + start`` s; return their timestamps."""
    times = [t0 + timedelta(seconds=start + i) for i in range(len(values))]
    codes = status or [0] * len(values)
    insert_samples(
        engine, [SampleRow(tag_id, t, v, s) for t, v, s in zip(times, values, codes, strict=True)]
    )
    return times


def feed_scans(
    engine: Engine, tag_id: int, scans: Sequence[Sequence[float]], *, start: float = 0
) -> list[datetime]:
    """Store profile ``scans`` five seconds apart from ``T0 + start`` s; return their times."""
    times = [T0 + timedelta(seconds=start + 5 * i) for i in range(len(scans))]
    insert_profiles(
        engine, [ProfileRow(tag_id, t, list(v)) for t, v in zip(times, scans, strict=True)]
    )
    return times


def shifted_series(seed: int, n: int = 400) -> np.ndarray:
    """N(10, 1) values with a 1.5-sigma shift from the middle on, so every rule has a say."""
    rng = np.random.default_rng(seed)
    x = 10.0 + rng.standard_normal(n)
    x[n // 2 :] += 1.5
    return x


def freeze(
    engine: Engine,
    ref: TagRef,
    center: float = 10.0,
    sigma: float = 1.0,
    chart: str | None = None,
) -> None:
    """Freeze limits ``center`` / ``sigma`` for chart ``chart`` of the tag (default its first),
    in force from `FROZEN_FROM`, as a quality engineer freezes a phase I estimate."""
    config = chart_for(engine, ref.line, ref.tag)
    series = config.series_named(chart)
    lcl, ucl = limit_lines(config, series, center, sigma)
    estimate = LimitsEstimate(
        chart=series.name,
        center=center,
        sigma=sigma,
        sigma_method="given",
        lcl=lcl,
        ucl=ucl,
        n_total=0,
        n_used=0,
        excluded=[],
        iterations=0,
        data_from=FROZEN_FROM,
        data_to=FROZEN_FROM,
        params=config.chart_params(series),
    )
    freeze_limits(engine, config, estimate, "q.eng")


def stored_violations(engine: Engine, tag_id: int) -> list[tuple[object, ...]]:
    """The tag's stored violations, oldest first: chart, rule, time, value, points, limits id."""
    with Session(engine) as session:
        rows = session.scalars(
            select(Violation).where(Violation.tag_id == tag_id).order_by(Violation.id)
        ).all()
        return [(v.chart, v.rule, v.ts, v.value, v.points, v.limits_id) for v in rows]
