"""`plantqc control ...`: commissioning of the thickness control loops."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
import yaml
from rich.console import Console
from rich.table import Table

from plantqc.cli.options import ConfigOption, DbOption, open_store
from plantqc.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(help="Thickness control loops: identification and commissioning.")
console = Console(highlight=False, soft_wrap=True)

SETTLE_TRAVERSES = 6
"""Traverses after the dead time before a CD bump counts as settled (the bolts' slew)."""


def _read_bump_test(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    import pandas as pd  # only when a bump test is read

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"bump test file {path} does not exist.") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"bump test file {path} is not a readable CSV: {exc}.") from None
    if "time_s" in frame:
        t = frame["time_s"].to_numpy(dtype=float)
    elif "time" in frame:
        stamps = pd.to_datetime(frame["time"], utc=True, errors="coerce")
        if stamps.isna().any():
            raise UserError(f"bump test file {path}: column 'time' is not ISO 8601 throughout.")
        t = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
    else:
        raise UserError(f"bump test file {path} has neither a 'time_s' nor a 'time' column.")
    if t.size < 2 or np.any(np.diff(t) <= 0):
        raise UserError(f"bump test file {path}: the times must increase from row to row.")
    return frame, t


def _numbered(frame: pd.DataFrame, prefix: str) -> list[str]:
    cols = [c for c in frame.columns if re.fullmatch(rf"{prefix}_\d+", c)]
    return sorted(cols, key=lambda c: int(c.rsplit("_", 1)[1]))


@app.command("identify")
def identify(
    from_file: Annotated[
        Path,
        typer.Option(
            "--from-file",
            help="Bump test CSV: time_s (or ISO time); flow_ml_min and md_mean_um for the MD "
            "loop; cd_0.. (die-bolt setpoints, %) and bin_0.. (profile, um) for the CD loop; "
            "optionally speed_m_min.",
        ),
    ],
    config: Annotated[
        Path, typer.Option("--config", help="Control config (a 'control:' section).")
    ],
    write: Annotated[
        bool, typer.Option("--write", help="Write the estimates into the config's loop models.")
    ] = False,
    settle_s: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="CD: time after a bump before the profile counts, s "
            "(default: the dead time plus six traverses).",
        ),
    ] = None,
) -> None:
    """Estimate MD gain and dead time and the CD response width and alignment from a bump test."""
    from plantqc.control.identify import identify_cd, identify_md
    from plantqc.control.settings import ControlSettings, load_control

    doc, settings = load_control(config)
    frame, t = _read_bump_test(from_file)
    scan_s = float(np.median(np.diff(t)))
    has_md = {"flow_ml_min", "md_mean_um"} <= set(frame.columns)
    cd_cols, bin_cols = _numbered(frame, "cd"), _numbered(frame, "bin")
    if not has_md and not (cd_cols and bin_cols):
        raise UserError(
            f"bump test file {from_file} has neither an MD bump (flow_ml_min, md_mean_um) nor "
            "a CD bump (cd_0.., bin_0..)."
        )
    source = f"identify {from_file.name} {datetime.now(UTC).isoformat(timespec='seconds')}"
    speed = float(frame["speed_m_min"].median()) if "speed_m_min" in frame else None
    table = Table(title=f"identified from {from_file}")
    for column in ("loop", "parameter", "estimate", "in config"):
        table.add_column(column, justify="left" if column in ("loop", "parameter") else "right")
    control = doc["control"]
    deadtime = None
    if has_md:
        if settings.md is None:
            raise UserError(f"config {config} has no 'control.md' loop to identify.")
        try:
            md = identify_md(t, frame["flow_ml_min"].to_numpy(float),
                             frame["md_mean_um"].to_numpy(float), scan_s=scan_s)  # fmt: skip
        except ValueError as exc:
            raise UserError(f"bump test file {from_file}: {exc}.") from None
        deadtime = md.deadtime_s
        old = settings.md.model
        table.add_row("md", "gain, um per mL/min", f"{md.gain_um_per_ml_min:.5g}",
                      f"{old.gain_um_per_ml_min:.5g}")  # fmt: skip
        table.add_row("md", "dead time, s", f"{md.deadtime_s:.1f}", f"{old.deadtime_s:.1f}")
        table.add_row("md", "lag, s", f"{md.tau_s:.1f}", f"{old.tau_s:.1f}")
        table.add_row("md", "fit rms, um", f"{md.rms_residual_um:.3g}", "")
        model = control["md"]["model"]
        model.update(
            gain_um_per_ml_min=round(md.gain_um_per_ml_min, 6),
            deadtime_s=round(md.deadtime_s, 2),
            tau_s=round(md.tau_s, 2),
            source=source,
        )
        if speed is not None:
            model["at_speed_m_min"] = speed
            distance = md.deadtime_s * speed / 60.0
            control["md"]["supervisor"]["die_to_gauge_m"] = round(distance, 3)
            table.add_row("md", "die to gauge, m", f"{distance:.2f}",
                          f"{settings.md.supervisor.die_to_gauge_m:.2f}")  # fmt: skip
    if cd_cols and bin_cols:
        if settings.cd is None:
            raise UserError(f"config {config} has no 'control.cd' loop to identify.")
        old_cd = settings.cd.model
        if (len(cd_cols), len(bin_cols)) != (old_cd.n_zones, old_cd.n_bins):
            raise UserError(
                f"bump test file {from_file} has {len(cd_cols)} die bolts and {len(bin_cols)} "
                f"gauge bins; the config's CD loop has {old_cd.n_zones} and {old_cd.n_bins}."
            )
        if settle_s is None:
            base = deadtime if deadtime is not None else (
                settings.md.model.deadtime_s if settings.md is not None else None
            )  # fmt: skip
            if base is None:
                raise UserError("give --settle-s: there is no MD dead time to settle CD bumps by.")
            settle_s = base + SETTLE_TRAVERSES * scan_s
        try:
            cd = identify_cd(t, frame[cd_cols].to_numpy(float), frame[bin_cols].to_numpy(float),
                             settle_s=settle_s)  # fmt: skip
        except ValueError as exc:
            raise UserError(f"bump test file {from_file}: {exc}.") from None
        table.add_row("cd", "width, pitches", f"{cd.width_pitch:.3f}", f"{old_cd.width_pitch:.3f}")
        table.add_row("cd", "misalignment, pitches", f"{cd.misalignment_pitch:+.3f}",
                      f"{old_cd.misalignment_pitch:+.3f}")  # fmt: skip
        table.add_row("cd", "gain, % per %", f"{cd.gain:.3f}", f"{old_cd.gain:.3f}")
        table.add_row("cd", "settled states", str(cd.states), "")
        control["cd"]["model"].update(
            width_pitch=round(cd.width_pitch, 4),
            misalignment_pitch=round(cd.misalignment_pitch, 4),
            gain=round(cd.gain, 4),
            source=source,
        )
    console.print(table)
    if not write:
        console.print("not written (add --write to store the estimates in the config)")
        return
    for name in ("md", "cd"):  # a bare YAML off was read as false: write it back as a word
        loop = getattr(settings, name)
        if loop is not None:
            control[name]["mode"] = str(loop.mode)
    try:
        ControlSettings.model_validate(control)
    except ValueError as exc:
        raise UserError(f"the estimates do not make a valid control config: {exc}.") from None
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    console.print(f"written to {config} (its comments are not kept)")


LoopArgument = Annotated[str, typer.Argument(help="Loop name, <line>.md or <line>.cd.")]
MoveArgument = Annotated[int, typer.Argument(help="Move id (see `plantqc control status`).")]
UserOption = Annotated[str, typer.Option("--user", help="Who does it (recorded in the audit log).")]


def _store(db: str | None, plant_config: Path | None):  # type: ignore[no-untyped-def]
    """The store, with the config's loops registered (so a loop can be commanded before the
    daemon first runs it)."""
    from plantqc.control.records import register_loops

    engine, loaded = open_store(db, plant_config)
    if loaded is not None:
        register_loops(engine, loaded.config)
    return engine


def _value(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return f"[{len(v)}] {min(v):.3g}..{max(v):.3g}" if v else "[]"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


@app.command("status")
def status(
    db: DbOption = None,
    plant_config: ConfigOption = None,
) -> None:
    """Each loop: mode, setpoint and measurement as last read, hold, pending proposal."""
    from plantqc.control.records import loop_rows

    engine = _store(db, plant_config)
    try:
        rows = loop_rows(engine)
    finally:
        engine.dispose()
    if not rows:
        console.print("no control loop in the store (configure one in a line's 'control:').")
        return
    for row, pending in rows:  # one line per loop: readable piped, never cut at 80 columns
        console.print(
            f"{row.loop}: {row.mode} (by {row.mode_by}); setpoint {_value(row.setpoint)}, "
            f"measured {_value(row.measured)}; "
            + (f"held: {row.hold}; " if row.hold else "")
            + ("no pending move" if pending is None
               else f"pending move #{pending.id}: {_value(pending.old)} -> {_value(pending.new)}")
            + f"; updated {row.updated.isoformat(timespec='seconds')}"
        )  # fmt: skip


@app.command("mode")
def mode(
    loop: LoopArgument,
    new_mode: Annotated[str, typer.Argument(metavar="MODE", help="off, advisory or closed.")],
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (audit log).")] = "operator",
    db: DbOption = None,
    plant_config: ConfigOption = None,
) -> None:
    """Switch a loop off, to advisory or to closed; the daemon adopts it at its next period."""
    from plantqc.control.loop import Mode
    from plantqc.control.records import request_mode

    try:
        wanted = Mode(new_mode)
    except ValueError:
        raise UserError(f"mode {new_mode!r} is not one of off, advisory, closed.") from None
    engine = _store(db, plant_config)
    try:
        old = request_mode(engine, loop, wanted, user, reason)
    finally:
        engine.dispose()
    if old == wanted:
        console.print(f"{loop} is already {wanted}")
    else:
        console.print(f"{loop}: {old} -> {wanted} (by {user})")


def _decide(
    move_id: int, user: str, accept: bool, reason: str, db: str | None, cfg: Path | None
) -> None:
    from plantqc.control.records import decide

    engine = _store(db, cfg)
    try:
        move = decide(engine, move_id, user, accept=accept, reason=reason)
    finally:
        engine.dispose()
    verb = "accepted: the daemon writes it at the loop's next period" if accept else "rejected"
    console.print(
        f"move {move_id} of {move.loop} ({_value(move.old)} -> {_value(move.new)}) {verb}"
    )


@app.command("accept")
def accept(
    move_id: MoveArgument,
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (audit log).")] = "accepted",
    db: DbOption = None,
    plant_config: ConfigOption = None,
) -> None:
    """Accept a pending advisory move."""
    _decide(move_id, user, True, reason, db, plant_config)


@app.command("reject")
def reject(
    move_id: MoveArgument,
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (audit log; required).")],
    db: DbOption = None,
    plant_config: ConfigOption = None,
) -> None:
    """Reject a pending advisory move, with the reason."""
    _decide(move_id, user, False, reason, db, plant_config)
