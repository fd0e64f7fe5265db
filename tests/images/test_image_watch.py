"""The folder watcher reports each complete file once, and only complete files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from plantqc.images.watch import FolderWatcher

SETTLE_S = 0.3


async def watch(
    folder: Path, action: Callable[[], Awaitable[None]], seconds: float
) -> list[tuple[str, int]]:
    """Run a watcher on ``folder`` while ``action()`` runs; (name, size at report) per report."""
    reported: list[tuple[str, int]] = []
    watcher = FolderWatcher(
        [folder],
        lambda _, path: reported.append((path.name, path.stat().st_size)),
        settle_s=SETTLE_S,
    )
    watcher.start()
    try:
        await action()
        await asyncio.sleep(seconds)
    finally:
        await watcher.stop()
    return reported


def test_a_file_is_reported_once_after_its_writer_closes_it(tmp_path: Path) -> None:
    async def write_slowly() -> None:
        with (tmp_path / "a.png").open("wb") as f:
            for _ in range(4):  # pauses shorter than the settle time, with the file open
                f.write(b"x" * 1000)
                f.flush()
                await asyncio.sleep(SETTLE_S / 3)

    assert asyncio.run(watch(tmp_path, write_slowly, 4 * SETTLE_S)) == [("a.png", 4000)]


def test_a_file_written_under_a_temporary_name_is_reported_under_its_final_name(
    tmp_path: Path,
) -> None:
    async def write_and_rename() -> None:
        (tmp_path / "b.png.part").write_bytes(b"y" * 500)
        await asyncio.sleep(2 * SETTLE_S)  # longer than the settle time: still not reported
        (tmp_path / "b.png.part").rename(tmp_path / "b.png")

    assert asyncio.run(watch(tmp_path, write_and_rename, 4 * SETTLE_S)) == [("b.png", 500)]


def test_files_present_before_the_start_are_reported_once_settled(tmp_path: Path) -> None:
    (tmp_path / "old.png").write_bytes(b"z" * 10)
    (tmp_path / ".hidden.png").write_bytes(b"z")

    async def nothing() -> None:
        return None

    assert asyncio.run(watch(tmp_path, nothing, 4 * SETTLE_S)) == [("old.png", 10)]


def test_a_file_in_a_subfolder_is_not_reported(tmp_path: Path) -> None:
    (tmp_path / "rejected").mkdir()

    async def write_below() -> None:
        (tmp_path / "rejected" / "c.png").write_bytes(b"c")

    assert asyncio.run(watch(tmp_path, write_below, 4 * SETTLE_S)) == []
