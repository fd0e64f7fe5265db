"""The daemon's image loop: watched folders -> worker processes -> store -> metric readings.

Each complete file of an image input's folder (`FolderWatcher`) is mapped to line, lot and roll
by the input's file-name pattern, measured in a worker process
(`plantqc.images.analysis.analyse_file` through `plantqc.images.jobs.run_job`, in a
`concurrent.futures.ProcessPoolExecutor`: the event loop never waits on pixels), stored as an
``image_results`` row with its SHA-256, metrics and overlay, and each scalar metric is handed to
the daemon as a `Reading` of the input's metric tag, so it is buffered, stored and charted like
any tag.

A file is processed once: a file whose path has a result is skipped at start, and a file whose
content (SHA-256) has a result of the same analysis is a duplicate, counted and not stored or
charted again.  A bad image (not an image, truncated, unmeasurable, or a name the pattern does
not match) is logged, counted, stored as ``rejected`` with the reason (when its line is known)
and moved to the input's rejected folder; the loop goes on.  When the store is down a file is
tried again after `STORE_RETRY_S`;
a file that fails otherwise stays where it is, logged, until the next start.

The sample time of the metrics is the time the file name gives (pattern group ``time``;
`TimestampOrigin.SOURCE`), else the file's modification time, stamped by the file system that
received it (`TimestampOrigin.SERVER`, as an OPC UA server timestamp).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import re
import shutil
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from plantqc.buffer import Reading
from plantqc.charting.names import image_metric_tag
from plantqc.config import LoadedConfig, PlantConfig
from plantqc.errors import UserError
from plantqc.images import records
from plantqc.images.jobs import (
    AnalysisJob,
    AnalysisOutcome,
    Recipe,
    file_sha256,
    run_job,
    warm_up,
)
from plantqc.images.settings import ImageInput
from plantqc.images.watch import FolderWatcher
from plantqc.metrics import ImageInputStatus
from plantqc.store.models import TimestampOrigin

log = logging.getLogger(__name__)

STORE_RETRY_S = 5.0
"""Delay before a file is tried again when the store could not be written [s]."""
STORE_POLL_S = 0.2
SHUTDOWN_S = 60.0
"""How long a stop waits for the images being measured [s]; the rest is found at next start."""


@dataclass(frozen=True)
class FileName:
    """What an image's file name says: line, lot and roll codes, capture time."""

    line: str
    lot: str | None
    roll: str | None
    time: datetime | None


def parse_name(config: PlantConfig, image: ImageInput, path: Path) -> FileName:
    """Map a file name to line / lot / roll / time by the input's pattern (whole name).

    Raises
    ------
    ValueError
        The name does not match, names a line the input does not serve, or a time that is
        not ISO 8601; the message is one sentence.
    """
    match = re.fullmatch(image.pattern, path.name)
    if match is None:
        raise ValueError(f"The file name does not match the pattern {image.pattern!r}.")
    groups = match.groupdict()
    line = groups.get("line") or image.line
    served = {line.name for line in config.image_lines(image)}
    if line not in served:
        raise ValueError(f"The file name gives line {line!r}, which this input does not serve.")
    at = None
    if groups.get("time"):
        try:
            at = datetime.fromisoformat(groups["time"])
        except ValueError:
            raise ValueError(
                f"The time {groups['time']!r} in the file name is not ISO 8601."
            ) from None
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return FileName(str(line), groups.get("lot"), groups.get("roll"), at)


@dataclass(frozen=True)
class ImageEvent:
    """The outcome of one file, as `ImagePipeline` reports it to ``on_event``.

    Attributes
    ----------
    status : str
        ``ok``, ``rejected`` or ``duplicate``.
    ready_at, done_at : float
        `time.monotonic` when the file was complete and when its outcome was stored [s].
    """

    input_name: str
    path: Path
    status: str
    sha256: str | None
    reason: str | None
    ready_at: float
    done_at: float


class _Stopping(Exception):
    """The pipeline stops while a file waits for the store: it is found again at next start."""


@dataclass(frozen=True)
class _Item:
    image: ImageInput
    folder: Path
    path: Path
    ready_at: float


class ImagePipeline:
    """Watch every image input of a config, measure new files, store them and emit metrics.

    Parameters
    ----------
    loaded : LoadedConfig
        The config: its ``images`` inputs and the ``daemon`` image settings.
    emit : callable
        Takes each metric `Reading` (the daemon's durable-buffer append); called on the loop.
    store : callable
        Returns the store's engine once it is open and synced (lines and metric tags), else
        None; files wait until it is.
    flush : callable, optional
        Awaited after a file's readings are emitted and before its result is stored (the
        daemon's flush to the durable buffer), so that a stored result implies stored metrics.
    workers : int, optional
        Analysis processes; default ``daemon.image_workers``.
    settle_s : float, optional
        Default ``daemon.image_settle_s`` (see `FolderWatcher`).
    on_event : callable, optional
        Called on the loop with an `ImageEvent` per file handled (benchmarks, tests).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        emit: Callable[[Reading], None],
        store: Callable[[], Engine | None],
        *,
        flush: Callable[[], Awaitable[None]] | None = None,
        workers: int | None = None,
        settle_s: float | None = None,
        on_event: Callable[[ImageEvent], None] | None = None,
    ) -> None:
        config = loaded.config
        settings = config.daemon
        self.config = config
        self.emit = emit
        self.store = store
        self.flush = flush
        self.on_event = on_event
        self.workers = workers or settings.image_workers
        self.settle_s = settle_s or settings.image_settle_s
        self.inputs = {loaded.resolve_path(i.folder).resolve(): i for i in config.images}
        overlays = loaded.resolve_path(settings.image_overlay_folder)
        rejected = loaded.resolve_path(settings.image_rejected_folder)
        self.overlay_folders = {i.name: overlays / i.name for i in config.images}
        self.rejected_folders = {i.name: rejected / i.name for i in config.images}
        self.recipes: dict[str, Recipe | None] = {}
        for line in config.lines:
            product = None if line.product is None else config.product(line.product)
            self.recipes[line.name] = (
                None
                if product is None
                else Recipe(
                    product.filler_density_g_cm3,
                    product.polymer_density_g_cm3,
                    product.filler_wt_pct,
                )
            )
        self.products = {line.name: line.product for line in config.lines}
        self.counts: dict[str, Counter[str]] = {i.name: Counter() for i in config.images}
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._in_flight: set[str] = set()  # SHA-256 being handled: duplicates wait for nothing
        self._line_ids: dict[str, int] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._stopping = False

    def status(self) -> dict[str, ImageInputStatus]:
        """Counts per image input, for the daemon's metrics and health endpoints."""
        return {
            name: ImageInputStatus(c["processed"], c["rejected"], c["duplicates"], c["queued"])
            for name, c in self.counts.items()
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Watch and process until ``stop`` is set; then finish the files being measured."""
        for folder in self.inputs:
            try:  # the camera may not have written its first image yet
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(
                    f"the image folder {folder} cannot be created: {exc.strerror or exc}."
                ) from None
        watcher = FolderWatcher(self.inputs, self._ready, settle_s=self.settle_s)
        watcher.start()
        consumers = [asyncio.create_task(self._consume()) for _ in range(self.workers)]
        try:
            await stop.wait()
        finally:
            self._stopping = True
            await watcher.stop()
            while not self._queue.empty():  # not started: found again at the next start
                item = self._queue.get_nowait()
                if item is not None:
                    self.counts[item.image.name]["queued"] -= 1
            for _ in consumers:
                self._queue.put_nowait(None)
            _, late = await asyncio.wait(consumers, timeout=SHUTDOWN_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*consumers, return_exceptions=True)
            pool, self._pool = self._pool, None
            if pool is not None:
                await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: the daemon has threads (watchdog, SQLite, asyncio executors) that a
        # forked child would inherit in an undefined state
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(self.workers):  # workers import numpy / OpenCV now, not on the first image
            pool.submit(warm_up)
        return pool

    def _ready(self, folder: Path, path: Path) -> None:
        image = self.inputs[folder]
        self.counts[image.name]["queued"] += 1
        self._queue.put_nowait(_Item(image, folder, path, time.monotonic()))

    async def _consume(self) -> None:
        while (item := await self._queue.get()) is not None:
            self.counts[item.image.name]["queued"] -= 1
            try:
                await self._handle(item)
            except _Stopping:
                return
            except (OperationalError, InterfaceError) as exc:  # the store is down or locked
                log.warning(
                    "image result not stored; trying again",
                    extra={"file": str(item.path), "reason": str(exc).splitlines()[0]},
                )
                asyncio.get_running_loop().call_later(
                    STORE_RETRY_S, self._ready, item.folder, item.path
                )
            except Exception:  # a bug must not stop the images of the next hours
                log.exception(
                    "image not processed; it is tried again at the next start",
                    extra={"file": str(item.path)},
                )

    async def _engine(self) -> Engine:
        while (engine := self.store()) is None:
            if self._stopping:
                raise _Stopping
            await asyncio.sleep(STORE_POLL_S)
        if not self._line_ids:
            self._line_ids = await asyncio.to_thread(records.line_ids, engine, self.config)
        return engine

    async def _handle(self, item: _Item) -> None:
        image, path = item.image, item.path
        engine = await self._engine()
        if await asyncio.to_thread(records.known_path, engine, image.name, str(path)):
            return  # measured before a restart
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return  # moved away by its writer before it was measured
        try:
            name = parse_name(self.config, image, path)
        except ValueError as exc:
            sha = await asyncio.to_thread(_sha_or_none, path)
            outcome = AnalysisOutcome(path, sha, error=str(exc))
            await self._reject(engine, item, image.line, outcome, _utc(mtime))
            return
        captured = name.time or _utc(mtime)
        origin = TimestampOrigin.SOURCE if name.time else TimestampOrigin.SERVER
        outcome = await self._analyse(
            AnalysisJob(
                path,
                image.kind,
                image.pixel_size_um,
                image.scale_bar_um,
                self.overlay_folders[image.name],
                self.recipes[name.line],
            )
        )
        if outcome.missing:
            return
        if outcome.sha256 is not None and outcome.sha256 in self._in_flight:
            if outcome.error is None:
                self._duplicate(item, outcome)
            else:  # the same bad content twice at once: one row, both files aside
                await self._reject(engine, item, name.line, outcome, captured, store=False)
            return
        if outcome.sha256 is not None:
            self._in_flight.add(outcome.sha256)
        try:
            known = (
                None
                if outcome.sha256 is None
                else await asyncio.to_thread(
                    records.known_status, engine, outcome.sha256, image.kind
                )
            )
            if known == "ok":
                self._duplicate(item, outcome)
            elif outcome.error is not None or known == "rejected":
                # content rejected before is rejected again, without a second row
                await self._reject(engine, item, name.line, outcome, captured, store=known is None)
            else:
                await self._accept(engine, item, name, outcome, captured, origin)
        finally:
            self._in_flight.discard(outcome.sha256 or "")

    async def _analyse(self, job: AnalysisJob) -> AnalysisOutcome:
        if self._pool is None:  # on the first image: a daemon whose cameras are idle spawns none
            self._pool = self._new_pool()
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, run_job, job)
        except BrokenProcessPool:  # a worker died (killed, out of memory) on this image
            if self._pool is pool:  # the first of the jobs that were on it replaces it
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            sha = await asyncio.to_thread(_sha_or_none, job.path)
            return AnalysisOutcome(job.path, sha, error="The analysis process died on it.")

    async def _accept(
        self,
        engine: Engine,
        item: _Item,
        name: FileName,
        outcome: AnalysisOutcome,
        captured: datetime,
        origin: TimestampOrigin,
    ) -> None:
        image = item.image
        assert outcome.sha256 is not None and outcome.values is not None
        line_id = self._line_ids[name.line]
        lot_id, roll_id = await asyncio.to_thread(
            records.resolve_lot_roll,
            engine,
            line_id,
            name.lot,
            name.roll,
            captured,
            self.products[name.line],
        )
        # before the result row: a crash in between measures the file again at the next start,
        # and the readings' idempotent insert (tag, time) keeps them single
        for metric, value in outcome.values.items():
            tag = image_metric_tag(image.name, metric)
            self.emit(Reading(name.line, tag, "scalar", captured, int(origin), 0, value))
        if self.flush is not None:
            await self.flush()
        row = records.ResultRow(
            line_id=line_id,
            lot_id=lot_id,
            roll_id=roll_id,
            input_name=image.name,
            analysis=image.kind,
            path=str(item.path),
            sha256=outcome.sha256,
            captured_at=captured,
            status="ok",
            metrics=outcome.document,
            overlay_path=None if outcome.overlay_path is None else str(outcome.overlay_path),
        )
        if not await asyncio.to_thread(records.insert_result, engine, row):
            log.warning("image result stored by another daemon", extra={"file": str(item.path)})
        if outcome.overlay_error:
            log.warning("overlay not written", extra={"reason": outcome.overlay_error})
        self.counts[image.name]["processed"] += 1
        log.info(
            "image measured",
            extra={"input": image.name, "file": item.path.name, "seconds": outcome.seconds},
        )
        self._report(item, "ok", outcome.sha256, None)

    async def _reject(
        self,
        engine: Engine,
        item: _Item,
        line: str | None,
        outcome: AnalysisOutcome,
        captured: datetime,
        *,
        store: bool = True,
    ) -> None:
        image = item.image
        reason = outcome.error or "The same content was rejected before."
        target = _free_name(self.rejected_folders[image.name], item.path, outcome.sha256)
        if store and line is not None and outcome.sha256 is not None:
            row = records.ResultRow(
                line_id=self._line_ids[line],
                lot_id=None,
                roll_id=None,
                input_name=image.name,
                analysis=image.kind,
                path=str(target),
                sha256=outcome.sha256,
                captured_at=captured,
                status="rejected",
                reason=reason.splitlines()[0],
            )
            await asyncio.to_thread(records.insert_result, engine, row)
        try:
            await asyncio.to_thread(_move, item.path, target)
        except OSError as exc:
            log.error(
                "rejected image not moved aside",
                extra={"file": str(item.path), "reason": exc.strerror or str(exc)},
            )
        level = logging.ERROR if outcome.unexpected else logging.WARNING
        log.log(
            level,
            "image rejected",
            extra={"input": image.name, "file": item.path.name, "reason": reason},
        )
        self.counts[image.name]["rejected"] += 1
        self._report(item, "rejected", outcome.sha256, reason.splitlines()[0])

    def _duplicate(self, item: _Item, outcome: AnalysisOutcome) -> None:
        if outcome.overlay_path is not None:  # the stored result has its own overlay
            outcome.overlay_path.unlink(missing_ok=True)
        log.info(
            "image already measured: same content as a stored one",
            extra={"input": item.image.name, "file": item.path.name, "sha256": outcome.sha256},
        )
        self.counts[item.image.name]["duplicates"] += 1
        self._report(item, "duplicate", outcome.sha256, None)

    def _report(self, item: _Item, status: str, sha256: str | None, reason: str | None) -> None:
        if self.on_event is not None:
            self.on_event(
                ImageEvent(
                    item.image.name,
                    item.path,
                    status,
                    sha256,
                    reason,
                    item.ready_at,
                    time.monotonic(),
                )
            )


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _sha_or_none(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _free_name(folder: Path, path: Path, sha256: str | None) -> Path:
    """``folder / name``, or with the digest in the name when a different file has that name."""
    target = folder / path.name
    if target.exists():
        tell = sha256[:12] if sha256 is not None else str(time.time_ns())
        target = folder / f"{path.stem}.{tell}{path.suffix}"
    return target


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, target)
