"""`plantqc limits design`: share each line's false-alarm budget among its charts and propose
the chart designs that keep to it (`plantqc.charting.budget`), from the config alone or from an
in-control history (a recording file, or stored samples)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from plantqc.cli.options import DbOption, parse_time
from plantqc.errors import UserError

if TYPE_CHECKING:  # charting (numpy, scipy) is loaded when the command runs
    from plantqc.charting.budget import Design, LineBudget, Series
    from plantqc.config import PlantConfig

# wide enough for the table of both designs in a pipe or a log
console = Console(highlight=False, width=180)


def _history(
    config: PlantConfig,
    line: str,
    from_file: Path | None,
    db: str | None,
    start: str | None,
    end: str | None,
) -> dict[str, Series] | None:
    from plantqc.charting.budget import Series, series_from_readings

    if from_file is not None and db is not None:
        raise UserError("give --from-file or --db, not both.")
    if from_file is not None:
        from plantqc.connectors.replay import read_recording

        if not from_file.is_file():
            raise UserError(f"--from-file {from_file} is not a file.")
        scalar = {ln.name: [t.name for t in ln.tags if t.kind == "scalar"] for ln in config.lines}
        return series_from_readings(read_recording(from_file, scalar).readings, line)
    if db is None:
        if start is not None or end is not None:
            raise UserError("--from and --to read stored samples: give --db too.")
        return None
    t0, t1 = parse_time(start, "--from"), parse_time(end, "--to")
    if t0 is None or t1 is None or t0 >= t1:
        raise UserError("--db needs --from and --to, with --from before --to.")
    from sqlalchemy.exc import SQLAlchemyError

    from plantqc.store import connect, find_tag, read_samples
    from plantqc.store.db import driver_reason

    engine = connect(db)
    found = {}
    try:
        for tag in config.line(line).tags:
            if tag.kind != "scalar" or tag.spc is None:
                continue
            ref = find_tag(engine, line, tag.name)
            frame = read_samples(engine, ref.tag_id, t0, t1, good_only=True)
            frame = frame[frame["value"].notna()]
            if len(frame):
                times = frame["time"].map(lambda t: t.timestamp()).to_numpy(float)
                found[tag.name] = Series(times, frame["value"].to_numpy(float))
    except SQLAlchemyError as exc:
        raise UserError(
            f"cannot read the samples of {line} from --db: {driver_reason(exc)}."
        ) from None
    finally:
        engine.dispose()
    return found


def _number(value: float, digits: int = 3) -> str:
    return "inf" if math.isinf(value) else f"{value:.{digits}g}"


def _parameters(design: Design) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in design.parameters.items())  # fmt: skip


def _table(budget: LineBudget) -> Table:
    table = Table(title=f"{budget.line}: budget {budget.budget_per_hour:g} alarm(s)/h")
    for column in ("chart", "design", "parameters", "points/h", "ARL0 pts", "ARL0 h",
                   "alarms/h", "share/h", "ARL1(1σ) pts", "ARL1(1σ) s", "meets"):  # fmt: skip
        table.add_column(column)
    for chart in budget.charts:
        label = (
            chart.tag if chart.series == chart.current.chart else f"{chart.tag} ({chart.series})"
        )
        for name, design in (("current", chart.current), ("proposed", chart.proposed)):
            meets = design.alarms_per_hour <= chart.share_per_hour * (1 + 1e-6)
            table.add_row(
                label if name == "current" else "",
                f"{name} {design.chart}",
                _parameters(design),
                _number(design.points_per_hour, 4),
                _number(design.arl0, 4),
                _number(design.arl0_hours),
                _number(design.alarms_per_hour),
                _number(chart.share_per_hour),
                _number(design.arl1),
                _number(design.arl1_s),
                "yes" if meets else "no",
            )
    return table


def _snippet(budget: LineBudget) -> str:
    from plantqc.charting.budget import proposed_settings

    tags = [
        {"name": name, "spc": settings.model_dump(by_alias=True, exclude_defaults=True)}
        for name, settings in proposed_settings(budget).items()
    ]
    return yaml.safe_dump({"tags": tags}, sort_keys=False, default_flow_style=None, width=96)


def _missing(budget: LineBudget) -> list[str]:
    return [
        f"{budget.line}/{c.tag} ({c.series}) raises {c.current.alarms_per_hour:.3g} alarm(s)/h "
        f"in control, more than its share of {c.share_per_hour:.3g}."
        for c in budget.charts
        if not c.meets
    ]


def design(
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config YAML.")],
    line: Annotated[
        str | None, typer.Option("--line", help="Only this line (default: every line).")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only this tag's charts.")] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="An in-control recording (the replay format)."),
    ] = None,
    db: DbOption = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Start of the stored history, ISO-8601.")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End of the stored history.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 when a chart misses its share of the budget.")
    ] = False,
) -> None:
    """Share each line's false-alarm budget (alarming.budget_per_hour) equally among its
    charts and, per chart, show the current and proposed design: in-control ARL, alarms per
    hour, the ARL of a 1-sigma shift, and the spc settings that meet the share."""
    from plantqc.charting.budget import design_line
    from plantqc.config import load_config

    plant = load_config(config, check_env=False).config
    if tag is not None and line is None and len(plant.lines) > 1:
        raise UserError("--tag needs --line when the config has more than one line.")
    names = [plant.line(line).name] if line is not None else [ln.name for ln in plant.lines]
    budgets = [
        design_line(plant, name, _history(plant, name, from_file, db, start, end), tag)
        for name in names
    ]
    missing = [sentence for budget in budgets for sentence in _missing(budget)]
    if as_json:
        typer.echo(json.dumps({"lines": [b.to_dict() for b in budgets]}, indent=1))
    else:
        for budget in budgets:
            console.print(_table(budget))
            for note in budget.notes:
                console.print(f"  {note}")
            if budget.quiet:
                console.print(f"  alerts only, no share: {', '.join(budget.quiet)}")
            for chart in budget.charts:
                for note in chart.notes:
                    console.print(f"  {chart.tag} ({chart.series}): {note}")
            if any(not c.meets for c in budget.charts):
                console.print(f"proposed spc settings of {budget.line} (the tags that change):")
                typer.echo(_snippet(budget))
    if check and missing:
        for sentence in missing:
            typer.echo(sentence, err=True)
        raise typer.Exit(code=1)
