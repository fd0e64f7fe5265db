"""The store hook: the daemon's ``on_stored`` and periodic ``tick``, charting what it stored
(`plantqc.charting.runner.SpcEngine` on a store opened at first use)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime

from plantqc.alarms import RTN_AFTER_POINTS
from plantqc.buffer import Reading
from plantqc.charting.runner import SpcEngine
from plantqc.config import PlantConfig

log = logging.getLogger(__name__)


class StoreHook:
    """The daemon's ``on_stored`` hook and periodic ``tick``: the engine on a store opened at
    first use.

    The daemon calls it after each stored batch (from a worker thread); the first call
    catches up every charted tag from its persisted state, later calls evaluate the tags of
    the batch.  `tick` (the daemon's periodic alarm check, another thread) looks for silent
    tags; a lock keeps the two from updating one tag's state at the same time.

    Parameters
    ----------
    db_url : str
        The daemon's store (already migrated and synced by the daemon when the hook first runs).
    rtn_after : int
        Chart points without a rule firing before its alarm returns to normal.
    config : PlantConfig, optional
        The plant config (sampling intervals, running conditions), see `SpcEngine`.
    """

    def __init__(
        self, db_url: str, *, rtn_after: int = RTN_AFTER_POINTS, config: PlantConfig | None = None
    ) -> None:
        self.db_url = db_url
        self.rtn_after = rtn_after
        self.config = config
        self.engine: SpcEngine | None = None
        self.violations = 0
        self.alarms_opened = 0
        self._lock = threading.Lock()

    def _engine(self) -> SpcEngine:
        if self.engine is None:
            from plantqc.store import connect

            self.engine = SpcEngine(
                connect(self.db_url), rtn_after=self.rtn_after, config=self.config
            )
        return self.engine

    def __call__(self, batch: Sequence[Reading]) -> None:
        self.chart_names({(r.line, r.tag) for r in batch})

    def chart_names(self, names: Iterable[tuple[str, str]]) -> None:
        """Chart the new samples of the (line, tag) ``names``; the first call catches up every
        charted tag instead."""
        with self._lock:
            first = self.engine is None
            engine = self._engine()
            runs = engine.process_all() if first else engine.process_names(names)
        for run in runs:
            self.violations += len(run.violations)
            self.alarms_opened += run.alarms_opened
            if run.alarms_opened:
                chart = engine.charts[run.tag_id]
                log.info(
                    "alarm raised",
                    extra={"line": chart.line, "tag": chart.tag, "alarms": run.alarms_opened},
                )

    def tick(self, now: datetime) -> None:
        """The daemon's periodic check: sensor faults that show as samples not arriving."""
        with self._lock:
            raised = self._engine().check_silence(now)
        if raised:
            log.warning(
                "sensor-fault alarm raised: no Good sample arriving", extra={"tags": raised}
            )

    def close(self) -> None:
        """Release the store connection."""
        if self.engine is not None:
            self.engine.engine.dispose()
