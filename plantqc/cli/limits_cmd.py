"""`plantqc limits estimate|freeze|show`: control limits as managed, versioned records."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from plantqc.alarms import require_user
from plantqc.charting.names import PROFILE_SERIES
from plantqc.cli.options import ConfigOption, DbOption, open_store, parse_time
from plantqc.errors import UserError

if TYPE_CHECKING:  # charting (numpy, scipy) is loaded by the commands that chart
    from plantqc.charting.chart import ChartConfig
    from plantqc.charting.phase1 import LimitsEstimate

app = typer.Typer(help="Estimate, freeze and show control limits.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)

TagOption = Annotated[str, typer.Option("--tag", help="LINE/TAG, e.g. casting-1/dry_thickness_um.")]
FromOption = Annotated[str, typer.Option("--from", help="Start of the phase I data, ISO-8601.")]
ToOption = Annotated[str, typer.Option("--to", help="End of the phase I data (exclusive).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ChartOption = Annotated[
    str | None,
    typer.Option(
        "--chart",
        help="Which of the tag's charts: a profile tag has one per scan statistic "
        f"({', '.join(PROFILE_SERIES.values())}); default its first.",
    ),
]


def _split(tag: str) -> tuple[str, str]:
    line, sep, name = tag.partition("/")
    if not sep or not line or not name:
        raise UserError(f"--tag {tag!r} must be LINE/TAG, e.g. casting-1/dry_thickness_um.")
    return line, name


def _estimate(
    db: str | None, config: Path | None, tag: str, start: str, end: str, chart_name: str | None
) -> tuple[Engine, ChartConfig, LimitsEstimate]:
    from plantqc.charting.catalog import chart_for
    from plantqc.charting.phase1 import estimate_limits

    t0, t1 = parse_time(start, "--from"), parse_time(end, "--to")
    assert t0 is not None and t1 is not None
    if t0 >= t1:
        raise UserError(f"--from ({start}) must be before --to ({end}).")
    engine, _ = open_store(db, config)
    chart = chart_for(engine, *_split(tag))
    series = chart.series_named(chart_name)
    return engine, chart, estimate_limits(engine, chart, t0, t1, series)


def _estimate_dict(estimate: LimitsEstimate) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(estimate), default=str))


def _print_estimate(chart: ChartConfig, estimate: LimitsEstimate) -> None:
    console.print(
        f"{chart.line}/{chart.tag} ({estimate.chart}): center {estimate.center:.6g}, "
        f"sigma {estimate.sigma:.6g} ({estimate.sigma_method}, "
        f"{estimate.params['constants']} constants), "
        f"LCL {estimate.lcl:.6g}, UCL {estimate.ucl:.6g}"
    )
    console.print(
        f"from {estimate.n_used} of {estimate.n_total} Good samples between "
        f"{estimate.data_from.isoformat()} and {estimate.data_to.isoformat()}; "
        f"{len(estimate.excluded)} excluded as out of control in {estimate.iterations} round(s)"
    )
    for point in estimate.excluded:
        console.print("  excluded " + ", ".join(f"{k} {v}" for k, v in point.items()))


@app.command("estimate")
def estimate(
    tag: TagOption,
    start: FromOption,
    end: ToOption,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    chart_name: ChartOption = None,
) -> None:
    """Phase I: propose limits from stored data and show what was excluded (nothing is saved)."""
    engine, chart, result = _estimate(db, config, tag, start, end, chart_name)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps(_estimate_dict(result), indent=1))
    else:
        _print_estimate(chart, result)


@app.command("freeze")
def freeze(
    tag: TagOption,
    start: FromOption,
    end: ToOption,
    user: Annotated[str, typer.Option("--user", help="Who freezes the limits.")],
    db: DbOption = None,
    config: ConfigOption = None,
    chart_name: ChartOption = None,
) -> None:
    """Estimate and freeze limits as a new version (who, when, from which data); old ones stay."""
    from plantqc.charting.phase1 import freeze_limits

    user = require_user(user, "freezing limits")  # before the estimate, which takes a while
    engine, chart, result = _estimate(db, config, tag, start, end, chart_name)
    try:
        version = freeze_limits(engine, chart, result, user)
    finally:
        engine.dispose()
    _print_estimate(chart, result)
    console.print(
        f"frozen as version {version} of {chart.line}/{chart.tag} ({result.chart}) by {user}"
    )


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


@app.command("show")
def show(
    tag: TagOption,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every limits version of each of a tag's charts; the ones in force are marked."""
    from sqlalchemy.orm import Session

    from plantqc.charting.catalog import chart_for
    from plantqc.charting.limits import limit_versions, limits_in_force

    engine, _ = open_store(db, config)
    try:
        chart = chart_for(engine, *_split(tag))
        names = [s.name for s in chart.series]
        rows = [r for r in limit_versions(engine, [chart.tag_id]) if r.chart in names]
        with Session(engine) as session:
            in_force = {
                row.id
                for name in names
                if (row := limits_in_force(session, chart.tag_id, name)) is not None
            }
    finally:
        engine.dispose()
    rows.sort(key=lambda r: (names.index(r.chart), r.version))
    records = [
        {
            "chart": r.chart,
            "version": r.version,
            "basis": r.basis,
            "in_force": r.id in in_force,
            "center": r.center,
            "sigma": r.sigma,
            "lcl": r.lcl,
            "ucl": r.ucl,
            "sigma_method": r.sigma_method,
            "n_used": r.n_used,
            "data_from": _when(r.data_from),
            "data_to": _when(r.data_to),
            "frozen_by": r.frozen_by,
            "frozen_at": _when(r.frozen_at),
        }
        for r in rows
    ]
    if as_json:
        typer.echo(json.dumps({"tag": tag, "chart": chart.chart, "versions": records}, indent=1))
        return
    if not records:
        console.print(f"{tag}: no limits yet (the engine writes spec-derived ones when it runs)")
        return
    table = Table(title=f"{tag} ({chart.chart}) control limits")
    columns = ("chart", "version", "basis", "center", "sigma", "lcl", "ucl", "n_used", "frozen_by")
    for column in (*columns, "frozen_at", "data"):
        table.add_column(column)
    for r in records:
        cells = [
            f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c] if r[c] is not None else "-")
            for c in columns
        ]
        cells[1] += " *" if r["in_force"] else ""
        table.add_row(*cells, r["frozen_at"], f"{r['data_from']} .. {r['data_to']}")
    console.print(table)
    console.print(
        "* in force; basis 'spec' = derived from the spec, 'provisional' = from the chart's "
        "first points: not phase I limits, sigma-zone rules off"
    )
