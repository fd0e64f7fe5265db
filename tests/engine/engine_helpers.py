"""Helpers of the engine tests: the test line's config, and storing a series of samples."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from plantqc.store import SampleRow, insert_samples

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

# spec 7 / 10 / 13: the spec-derived limits are center 10, sigma (13 - 7) / 6 = 1, the design of
# Montgomery's Examples 9.1 (CUSUM) and 9.2 (EWMA)
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
      - {name: no_spec, node_id: "ns=2;s=h", spc: {chart: imr}}
"""


def feed(
    engine: Engine,
    tag_id: int,
    values: Sequence[float],
    *,
    start: int = 0,
    status: Sequence[int] | None = None,
) -> list[datetime]:
    """Store ``values`` one second apart from ``T0 + start`` s; return their timestamps."""
    times = [T0 + timedelta(seconds=start + i) for i in range(len(values))]
    codes = status or [0] * len(values)
    insert_samples(
        engine, [SampleRow(tag_id, t, v, s) for t, v, s in zip(times, values, codes, strict=True)]
    )
    return times
