"""`plantqc spc chart|capability`: control charts and capability from a CSV file."""

from __future__ import annotations

import json
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

import spc
from plantqc.errors import UserError

app = typer.Typer(help="Statistical process control: control charts and capability from CSV.")
console = Console(highlight=False, soft_wrap=True)
notes = Console(stderr=True, highlight=False, soft_wrap=True)


class ChartType(StrEnum):
    xbar_r = "xbar-r"
    xbar_s = "xbar-s"
    imr = "imr"
    p = "p"
    np = "np"
    c = "c"
    u = "u"
    ewma = "ewma"
    cusum = "cusum"
    t2 = "t2"


class RuleSet(StrEnum):
    nelson = "nelson"
    we = "we"
    none = "none"


def _read(path: Path, columns: list[str]) -> tuple[pd.DataFrame, int]:
    """The named columns, numeric, with rows holding an empty cell dropped (and counted)."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"{path} does not exist.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a readable CSV file ({exc}).") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"Column {missing[0]!r} is not in {path.name}; its columns are"
            f" {', '.join(map(str, frame.columns))}."
        )
    frame = frame[columns]
    empty = frame.isna().any(axis=1)
    frame = frame[~empty]
    return frame, int(empty.sum())


def _numeric(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna()
    if bad.any():
        row = frame.index[bad.to_numpy()][0]
        raise UserError(
            f"Column {column!r} has a non-numeric value {frame[column].loc[row]!r} in row"
            f" {row + 2} of {path.name}."
        )
    return values.to_numpy(dtype=float)


def _note_dropped(dropped: int) -> None:
    if dropped:
        notes.print(f"note: dropped {dropped} row(s) with an empty (NaN) cell.")


def _build_chart(
    chart: ChartType,
    frame: pd.DataFrame,
    path: Path,
    values: list[str],
    subgroup: str | None,
    size: str | None,
    phase1: int | None,
    lam: float,
    L: float,
    k: float,
    h: float,
    rules: str,
) -> spc.ChartSet:
    labels = frame[subgroup].to_numpy() if subgroup else None
    data = {column: _numeric(frame, column, path) for column in values}
    first = data[values[0]]
    if chart in (ChartType.xbar_r, ChartType.xbar_s):
        function = spc.xbar_r if chart is ChartType.xbar_r else spc.xbar_s
        if len(values) > 1:  # wide form: one row per subgroup, one column per observation
            wide = np.column_stack([data[c] for c in values])
            result = function(wide, None, reference=phase1, rules=rules)
            if labels is not None:
                result = _relabel(result, labels)
            return result
        if subgroup is None:
            raise UserError("An X-bar chart needs --subgroup COL, or several --value columns.")
        return function(first, labels, reference=phase1, rules=rules)
    if chart is ChartType.t2:
        if len(values) < 2:
            raise UserError("A T-squared chart needs at least two --value columns.")
        table = pd.DataFrame(data)
        return spc.hotelling_t2(table, labels, reference=phase1, rules=rules)
    if len(values) > 1:
        raise UserError(f"The {chart.value} chart takes one --value column.")
    if chart in (ChartType.p, ChartType.np, ChartType.c, ChartType.u):
        sizes = _numeric(frame, size, path) if size else None
        if sizes is None and chart is not ChartType.c:
            raise UserError(f"The {chart.value} chart needs --size COL (sample sizes).")
        function = {
            ChartType.p: spc.p_chart,
            ChartType.np: spc.np_chart,
            ChartType.c: spc.c_chart,
            ChartType.u: spc.u_chart,
        }[chart]
        return function(first, sizes, labels, reference=phase1, rules=rules)
    if chart is ChartType.ewma:
        return spc.ewma(first, labels, lam=lam, L=L, reference=phase1, rules=rules)
    if chart is ChartType.cusum:
        return spc.cusum(first, labels, k=k, h=h, reference=phase1, rules=rules)
    return spc.imr(first, labels, reference=phase1, rules=rules)


def _relabel(result: spc.ChartSet, labels: np.ndarray) -> spc.ChartSet:
    return replace(
        result,
        charts={name: replace(c, labels=labels) for name, c in result.charts.items()},
    )


@app.command("chart")
def chart_command(
    file: Path = typer.Argument(..., help="CSV file, long or wide form."),
    chart: ChartType = typer.Option(..., "--chart", help="Chart type."),
    value: list[str] = typer.Option(
        ..., "--value", help="Measurement column; repeat for wide X-bar data or T-squared."
    ),
    subgroup: str | None = typer.Option(None, "--subgroup", help="Subgroup / sample label column."),
    size: str | None = typer.Option(None, "--size", help="Sample size column (p, np, u)."),
    phase1: int | None = typer.Option(
        None, "--phase1", help="Estimate limits from the first N subgroups; apply to all."
    ),
    lam: float = typer.Option(0.2, "--lambda", help="EWMA smoothing constant."),
    L: float = typer.Option(3.0, "--L", help="EWMA limit width in sigma of the statistic."),
    k: float = typer.Option(0.5, "--k", help="CUSUM reference value in sigma units."),
    h: float = typer.Option(5.0, "--h", help="CUSUM decision interval in sigma units."),
    rules: RuleSet = typer.Option(RuleSet.nelson, "--rules", help="Run rules."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the chart to a PNG or SVG file."),
) -> None:
    """Compute a control chart and its run-rule violations."""
    columns = list(dict.fromkeys([*value, *(c for c in (subgroup, size) if c)]))
    frame, dropped = _read(file, columns)
    _note_dropped(dropped)
    result = _build_chart(
        chart, frame, file, value, subgroup, size, phase1, lam, L, k, h, rules.value
    )
    if plot is not None:
        _plot(result, plot)
    if as_json:
        payload = result.to_dict()
        payload["dropped_rows"] = dropped
        typer.echo(json.dumps(payload, allow_nan=False))
        return
    _print_charts(result)


def _print_charts(result: spc.ChartSet) -> None:
    console.print(
        f"[bold]{result.chart}[/] chart   sigma = {_fmt(result.sigma)} ({result.sigma_method})"
    )
    for name, chart in result.charts.items():
        table = Table(title=name, show_lines=False)
        for heading in ("#", "subgroup", "value", "LCL", "center", "UCL", "violations"):
            table.add_column(heading, justify="right" if heading != "violations" else "left")
        codes = chart.codes_at()
        for i in range(len(chart.values)):
            table.add_row(
                str(i + 1),
                str(chart.labels[i]),
                _fmt(chart.values[i]),
                _fmt(chart.lcl[i]),
                _fmt(chart.center[i]),
                _fmt(chart.ucl[i]),
                " ".join(codes[i]),
            )
        console.print(table)


def _fmt(value: Any) -> str:
    value = float(value)
    return "-" if np.isnan(value) else f"{value:.6g}"


def _plot(result: spc.ChartSet, path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg"):
        raise UserError(f"The plot file must end in .png or .svg, got {path.name}.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = list(result.charts.values())
    figure, axes = plt.subplots(len(charts), 1, figsize=(9, 3 * len(charts)), squeeze=False)
    for axis, chart in zip(axes[:, 0], charts, strict=True):
        x = np.arange(1, len(chart.values) + 1)
        axis.plot(x, chart.values, marker="o", markersize=3, linewidth=1, color="tab:blue")
        axis.step(x, chart.ucl, where="mid", color="tab:red", linewidth=1, label="UCL")
        axis.step(x, chart.lcl, where="mid", color="tab:red", linewidth=1, label="LCL")
        axis.step(x, chart.center, where="mid", color="tab:green", linewidth=1, label="center")
        flagged = sorted({v.index for v in chart.violations})
        axis.plot(x[flagged], chart.values[flagged], "o", color="tab:red", markersize=5)
        axis.set_ylabel(chart.name)
    axes[-1, 0].set_xlabel("point")
    figure.suptitle(f"{result.chart} chart")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


@app.command("capability")
def capability_command(
    file: Path = typer.Argument(..., help="CSV file."),
    value: str = typer.Option(..., "--value", help="Measurement column."),
    subgroup: str | None = typer.Option(None, "--subgroup", help="Subgroup label column."),
    lsl: float = typer.Option(..., "--lsl", help="Lower specification limit."),
    usl: float = typer.Option(..., "--usl", help="Upper specification limit."),
    target: float | None = typer.Option(None, "--target", help="Target (default: midpoint)."),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence level of the CIs."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Process capability (Cp, Cpk, Pp, Ppk, Cpm) with confidence intervals and ppm."""
    if not lsl < usl:
        raise UserError(f"--lsl ({lsl:g}) must be below --usl ({usl:g}).")
    frame, dropped = _read(file, [value, *([subgroup] if subgroup else [])])
    _note_dropped(dropped)
    x = _numeric(frame, value, file)
    labels = frame[subgroup].to_numpy() if subgroup else None
    result = spc.capability(x, labels, lsl=lsl, usl=usl, target=target, confidence=confidence)
    payload = result.to_dict()
    payload["dropped_rows"] = dropped
    if as_json:
        typer.echo(json.dumps(payload, allow_nan=False))
        return
    table = Table(title=f"capability of {value}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("n", "mean", "sigma_within", "sigma_overall", "cp", "cpk", "cpl", "cpu", "pp",
                "ppk", "cpm"):  # fmt: skip
        table.add_row(key, _fmt(payload[key]) if payload[key] is not None else "-")
    level = f"{confidence:.0%}"
    for key, (low, high) in payload["ci"].items():
        table.add_row(f"{key} {level} CI", f"{_fmt(low)} .. {_fmt(high)}")
    table.add_row("normality (AD) p", _fmt(payload["normality"]["p_value"]))
    table.add_row("expected ppm (within)", _fmt(payload["ppm"]["within_total"]))
    table.add_row("expected ppm (overall)", _fmt(payload["ppm"]["overall_total"]))
    console.print(table)
