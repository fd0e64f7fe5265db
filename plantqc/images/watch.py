"""Files that appear in watched folders, handed over once they are completely written.

A watchdog observer (inotify on Linux) reports file events from its own thread; they are
passed to the event loop with ``loop.call_soon_threadsafe``.  A file is ready when the writer
closed it after writing (inotify's ``IN_CLOSE_WRITE``), or else when neither an event nor its
size and modification time changed for ``settle_s`` (a writer on a network share sends no close
event).  Files already in a folder at start are candidates too, so nothing dropped while the
daemon was down is missed.  Hidden files and the temporary names writers use before renaming
(``*.tmp``, ``*.part``, ``*.partial``, ``*~``) are not reported; their final name is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from plantqc.errors import UserError

log = logging.getLogger(__name__)

TEMPORARY_SUFFIXES = frozenset({".tmp", ".part", ".partial"})


def is_candidate(path: Path) -> bool:
    """Whether a file name is a final name (not hidden, not a writer's temporary name)."""
    name = path.name
    return not (
        name.startswith(".") or name.endswith("~") or path.suffix.lower() in TEMPORARY_SUFFIXES
    )


@dataclass
class _Pending:
    changed_at: float  # monotonic time of the last event or observed change
    stat: tuple[int, int] | None = None  # size, mtime_ns at the last check
    closed: bool = False  # closed after writing, not written since


class _Handler(FileSystemEventHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, watcher: FolderWatcher) -> None:
        self._loop = loop
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if isinstance(event, FileMovedEvent):
            self._post(event.src_path, "gone")
            self._post(event.dest_path, "closed")  # a rename completes a written file
        elif isinstance(event, FileDeletedEvent):
            self._post(event.src_path, "gone")
        elif isinstance(event, FileClosedEvent):
            self._post(event.src_path, "closed")
        elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
            self._post(event.src_path, "changed")

    def _post(self, path: str | bytes, what: str) -> None:
        text = path.decode() if isinstance(path, bytes) else path
        with contextlib.suppress(RuntimeError):  # the loop closed while the observer stopped
            self._loop.call_soon_threadsafe(self._watcher.notice, Path(text), what)


class FolderWatcher:
    """Reports each file written into one of ``folders``, once, when it is complete.

    Parameters
    ----------
    folders : iterable of Path
        Folders to watch (not their subfolders); each must exist.
    on_ready : callable
        Called on the event loop with (folder, path) of each complete file.
    settle_s : float
        A file without a close event is complete after this long without change [s].

    Notes
    -----
    `start` must be called from a running event loop; `stop` stops the observer thread.
    A file that is written again after it was reported is reported again.
    """

    def __init__(
        self,
        folders: Iterable[Path],
        on_ready: Callable[[Path, Path], None],
        *,
        settle_s: float = 1.0,
    ) -> None:
        self.folders = [Path(f).resolve() for f in folders]
        self.on_ready = on_ready
        self.settle_s = settle_s
        self._pending: dict[Path, _Pending] = {}
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._checker: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Scan the folders for files already there and start watching them."""
        for folder in self.folders:
            if not folder.is_dir():
                raise UserError(f"the image folder {folder} does not exist.")
        loop = asyncio.get_running_loop()
        observer = Observer()
        handler = _Handler(loop, self)
        for folder in self.folders:
            observer.schedule(handler, str(folder), recursive=False)
        observer.start()
        self._observer = observer
        for folder in self.folders:  # after the observer starts, so no file falls in between
            for path in _oldest_first(folder):
                self.notice(path, "changed")
        self._checker = asyncio.create_task(self._check_loop())

    async def stop(self) -> None:
        """Stop watching; files not yet reported are found again by the next `start`."""
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
            self._checker = None
        if self._observer is not None:
            self._observer.stop()
            await asyncio.to_thread(self._observer.join)
            self._observer = None
        self._pending.clear()

    def notice(self, path: Path, what: str) -> None:
        """Record an event of ``path`` (``changed``, ``closed`` or ``gone``); on the loop."""
        if path.parent not in self.folders or not is_candidate(path):
            return
        if what == "gone":
            self._pending.pop(path, None)
            return
        pending = self._pending.setdefault(path, _Pending(time.monotonic()))
        pending.changed_at = time.monotonic()
        pending.closed = what == "closed"

    async def _check_loop(self) -> None:
        interval = min(0.25, self.settle_s / 4)
        while True:
            await asyncio.sleep(interval)
            self._check(time.monotonic())

    def _check(self, now: float) -> None:
        for path, pending in list(self._pending.items()):
            try:
                st = path.stat()
            except OSError:  # gone before it was complete
                del self._pending[path]
                continue
            seen = (st.st_size, st.st_mtime_ns)
            if seen != pending.stat:
                if pending.stat is not None and not pending.closed:
                    pending.changed_at = now
                pending.stat = seen
            if pending.closed or now - pending.changed_at >= self.settle_s:
                del self._pending[path]
                try:
                    self.on_ready(path.parent, path)
                except Exception:  # a failing consumer must not stop the watching
                    log.exception("image consumer failed", extra={"path": str(path)})


def _oldest_first(folder: Path) -> list[Path]:
    """The files of ``folder`` by modification time: charts take samples in time order."""
    found = []
    for path in folder.iterdir():
        try:
            st = path.stat()
        except OSError:  # gone meanwhile
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((st.st_mtime_ns, path.name, path))
    return [path for *_, path in sorted(found)]
