"""Simulated history without the wait: the line models stepped tick by tick, no server, no clock.

The same `LineModel` the OPC UA simulator serves, with the same seed and tick, so a recording
holds the values a subscription to ``plantqc sim`` would have received, stamped at
``start + k * tick`` instead of the wall clock.  Scalar tags only: the recording format holds
float values (`plantqc.connectors.replay`); profiles and lot / roll ids are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from plantqc.config import PlantConfig
from plantqc.sim.model import SAMPLE_COUNTER, LineModel
from plantqc.sim.scenario import Scenario


@dataclass
class TagHistory:
    """The recorded samples of one tag: times (UTC), values and OPC UA status codes."""

    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


def record(
    config: PlantConfig,
    scenario: Scenario,
    *,
    seed: int,
    hours: float,
    start: datetime,
    tick_s: float = 0.1,
) -> dict[tuple[str, str], TagHistory]:
    """Every scalar tag's samples over ``hours`` from ``start``, per (line, tag).

    ``tick_s`` is the model step (the simulator's ``--tick-ms`` / 1000, default 0.1 s): a tag
    is updated every ``sampling_interval_ms`` rounded to ticks, as when served.
    """
    ticks = round(hours * 3600 / tick_s)
    histories: dict[tuple[str, str], TagHistory] = {}
    for line in config.lines:
        model = LineModel(line, scenario, seed=seed, tick_s=tick_s)
        scalar = {tag.name for tag in line.tags if tag.kind == "scalar"}
        # a tag that names the simulator's counter node records the counter
        counter = next(
            (t.name for t in line.tags if t.node_id.endswith(f"{line.name}.{SAMPLE_COUNTER}")),
            None,
        )
        step_us = round(tick_s * 1e6)
        for k in range(ticks):
            at = start + timedelta(microseconds=k * step_us)
            for update in model.step():
                name = counter if update.tag == SAMPLE_COUNTER else update.tag
                if name is None or name not in scalar or not isinstance(update.value, float):
                    continue
                history = histories.setdefault((line.name, name), TagHistory())
                history.times.append(at)
                history.values.append(update.value)
                history.statuses.append(update.status)
    return histories
