"""`plantqc spc chart|capability`: control charts and capability from a CSV file."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table
from scipy.stats import norm

import spc
from plantqc.errors import UserError
from spc.rules import RULE_SETS, limit_rule_code, resolve_rules

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


class Constants(StrEnum):
    exact = "exact"
    table = "table"
    qcc = "qcc"


class SigmaMethod(StrEnum):
    rbar = "rbar"
    sbar = "sbar"
    pooled = "pooled"
    mr = "mr"
    sd = "sd"


class UnequalSizes(StrEnum):
    weighted = "weighted"
    unweighted = "unweighted"


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


@dataclass(frozen=True)
class ChartOptions:
    """Every choice of `plantqc spc chart`, as given (None: the chart's default)."""

    phase1: int | None
    lam: float
    L: float | None
    k: float
    h: float
    head_start: float | None
    center: float | None
    sigma: float | None
    sigma_method: str | None
    unequal_sizes: str
    constants: str
    rules: str | list[str]
    alpha: float | None

    def width(self) -> float:
        """Limit width in sigma of the plotted statistic: --L, or the probability limit of
        --alpha."""
        if self.alpha is None:
            return 3.0 if self.L is None else self.L
        return float(norm.ppf(1.0 - self.alpha / 2.0))

    def settings(self, chart: ChartType, result: spc.ChartSet) -> dict[str, Any]:
        """The choices that shaped ``result``, for the JSON output."""
        rules = list(resolve_rules(self.rules))
        if chart in LIMIT_ONLY_CHARTS:  # run rules do not apply to these statistics
            code = limit_rule_code(self.rules)
            rules = [code] if code else []
        out: dict[str, Any] = {"phase1_subgroups": self.phase1, "rules": rules}
        if chart is ChartType.t2:
            return {**out, "alpha": result.extra["alpha"]}
        if chart in ATTRIBUTE_CHARTS:
            return {**out, "center": self.center, "L": self.width(), "alpha": self.alpha}
        out.update(
            constants=self.constants,
            sigma_method=result.sigma_method,
            unequal_sizes=self.unequal_sizes,
            center=self.center,
            sigma=self.sigma,
        )
        if chart is ChartType.cusum:
            return {**out, "k": self.k, "h": self.h, "head_start": result.extra["headstart"]}
        out.update(L=self.width(), alpha=self.alpha)
        return {**out, "lambda": self.lam} if chart is ChartType.ewma else out


ATTRIBUTE_CHARTS = frozenset({ChartType.p, ChartType.np, ChartType.c, ChartType.u})
LIMIT_ONLY_CHARTS = frozenset({ChartType.ewma, ChartType.cusum, ChartType.t2})


def _check_options(chart: ChartType, options: ChartOptions) -> None:
    """One sentence for a choice that the chart type cannot use."""
    if options.L is not None and options.alpha is not None:
        raise UserError("Give either --L or --alpha (probability limits), not both.")
    if options.head_start is not None and chart is not ChartType.cusum:
        raise UserError("--head-start is the fast initial response of the CUSUM chart only.")
    if chart is ChartType.t2 and any(
        v is not None for v in (options.center, options.sigma, options.sigma_method, options.L)
    ):
        raise UserError(
            "A T-squared chart takes --alpha, not --center, --sigma, --sigma-method or --L."
        )
    if chart in ATTRIBUTE_CHARTS and (options.sigma is not None or options.sigma_method):
        raise UserError(
            f"The {chart.value} chart's sigma follows from its center line; give --center instead."
        )
    if chart is ChartType.cusum and (options.L is not None or options.alpha is not None):
        raise UserError("A CUSUM chart's limit is --h (decision interval), not --L or --alpha.")


def _build_chart(
    chart: ChartType,
    frame: pd.DataFrame,
    path: Path,
    values: list[str],
    subgroup: str | None,
    size: str | None,
    options: ChartOptions,
) -> spc.ChartSet:
    _check_options(chart, options)
    labels = frame[subgroup].to_numpy() if subgroup else None
    data = {column: _numeric(frame, column, path) for column in values}
    first = data[values[0]]
    o = options
    variables = {
        "constants": o.constants,
        "center": o.center,
        "sigma": o.sigma,
        "rules": o.rules,
        "reference": o.phase1,
    }
    if chart in (ChartType.xbar_r, ChartType.xbar_s):
        function = spc.xbar_r if chart is ChartType.xbar_r else spc.xbar_s
        default = "rbar" if chart is ChartType.xbar_r else "sbar"
        shewhart = {**variables, "sigma_method": o.sigma_method or default,
                    "unequal": o.unequal_sizes, "L": o.width()}  # fmt: skip
        if len(values) > 1:  # wide form: one row per subgroup, one column per observation
            wide = np.column_stack([data[c] for c in values])
            result = function(wide, None, **shewhart)
            if labels is not None:
                result = _relabel(result, labels)
            return result
        if subgroup is None:
            raise UserError("An X-bar chart needs --subgroup COL, or several --value columns.")
        return function(first, labels, **shewhart)
    if chart is ChartType.t2:
        if len(values) < 2:
            raise UserError("A T-squared chart needs at least two --value columns.")
        alpha = spc.multivariate.DEFAULT_ALPHA if o.alpha is None else o.alpha
        table = pd.DataFrame(data)
        return spc.hotelling_t2(table, labels, reference=o.phase1, rules=o.rules, alpha=alpha)
    if len(values) > 1:
        raise UserError(f"The {chart.value} chart takes one --value column.")
    if chart in ATTRIBUTE_CHARTS:
        return _attribute_chart(chart, frame, path, first, labels, size, o)
    time_weighted = {
        "constants": o.constants, "target": o.center, "sigma": o.sigma, "rules": o.rules,
        "reference": o.phase1, "subgroup": labels, "sigma_method": o.sigma_method,
        "unequal": o.unequal_sizes,
    }  # fmt: skip
    if chart is ChartType.ewma:
        return spc.ewma(first, lam=o.lam, L=o.width(), **time_weighted)
    if chart is ChartType.cusum:
        return spc.cusum(first, k=o.k, h=o.h, headstart=o.head_start, **time_weighted)
    if labels is not None and len(pd.unique(labels)) != labels.size:
        raise UserError(
            "An I-MR chart plots individual observations, but a --subgroup holds several; use"
            " --chart xbar-r, xbar-s, ewma or cusum for subgroups."
        )
    return spc.imr(first, labels, sigma_method=o.sigma_method or "mr", L=o.width(), **variables)


def _attribute_chart(
    chart: ChartType,
    frame: pd.DataFrame,
    path: Path,
    counts: np.ndarray,
    labels: np.ndarray | None,
    size: str | None,
    o: ChartOptions,
) -> spc.ChartSet:
    sizes = _numeric(frame, size, path) if size else None
    if sizes is None and chart is not ChartType.c:
        raise UserError(f"The {chart.value} chart needs --size COL (sample sizes).")
    if labels is not None:  # a subgroup is one sample: its counts and sizes add up
        grouped = pd.DataFrame({"label": labels, "count": counts, "size": sizes})
        totals = grouped.groupby("label", sort=False).sum()
        labels, counts = totals.index.to_numpy(), totals["count"].to_numpy(dtype=float)
        sizes = None if size is None else totals["size"].to_numpy(dtype=float)
    function = {
        ChartType.p: spc.p_chart,
        ChartType.np: spc.np_chart,
        ChartType.c: spc.c_chart,
        ChartType.u: spc.u_chart,
    }[chart]
    frozen = None if o.center is None else spc.AttributeLimits(o.center)
    return function(
        counts, sizes, labels, reference=o.phase1, limits=frozen, rules=o.rules, L=o.width()
    )


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
        None,
        "--phase1",
        help="Estimate limits from the first N subgroups (or samples); apply to all.",
    ),
    lam: float = typer.Option(0.2, "--lambda", help="EWMA smoothing constant."),
    L: float | None = typer.Option(
        None, "--L", help="Limit width in sigma of the plotted statistic (default 3)."
    ),
    alpha: float | None = typer.Option(
        None, "--alpha", help="False-alarm probability per point: T-squared, or probability limits."
    ),
    k: float = typer.Option(0.5, "--k", help="CUSUM reference value in sigma (standard errors)."),
    h: float = typer.Option(5.0, "--h", help="CUSUM decision interval in sigma (standard errors)."),
    head_start: float | None = typer.Option(
        None, "--head-start", help="CUSUM fast initial response: start value in sigma units."
    ),
    center: float | None = typer.Option(
        None, "--center", help="Given center line (process mean, p-bar, c-bar, u-bar)."
    ),
    sigma: float | None = typer.Option(None, "--sigma", help="Given sigma of one observation."),
    sigma_method: SigmaMethod | None = typer.Option(
        None, "--sigma-method", help="rbar, sbar, pooled (subgroups), mr (individuals) or sd."
    ),
    unequal_sizes: UnequalSizes = typer.Option(
        UnequalSizes.weighted,
        "--unequal-sizes",
        help="Unequal subgroup sizes: ASTM E2587 weighting, or unweighted (as qcc).",
    ),
    constants: Constants = typer.Option(
        Constants.exact, "--constants", help="d2, d3, c4: exact, table (Montgomery/ASTM) or qcc."
    ),
    rules: str = typer.Option(
        "nelson", "--rules", help="Run rules: nelson, we, none or codes (nelson1,nelson5,we2)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the chart to a PNG or SVG file."),
) -> None:
    """Compute a control chart and its run-rule violations."""
    columns = list(dict.fromkeys([*value, *(c for c in (subgroup, size) if c)]))
    frame, dropped = _read(file, columns)
    _note_dropped(dropped)
    options = ChartOptions(
        phase1=phase1, lam=lam, L=L, k=k, h=h, head_start=head_start, center=center,
        sigma=sigma, sigma_method=sigma_method.value if sigma_method else None,
        unequal_sizes=unequal_sizes.value, constants=constants.value,
        rules=_rule_codes(rules), alpha=alpha,
    )  # fmt: skip
    result = _build_chart(chart, frame, file, value, subgroup, size, options)
    if plot is not None:
        _plot(result, plot)
    if as_json:
        payload = result.to_dict()
        payload["settings"] = options.settings(chart, result)
        payload["dropped_rows"] = dropped
        typer.echo(json.dumps(payload, allow_nan=False))
        return
    _print_charts(result)


def _rule_codes(rules: str) -> str | list[str]:
    """A rule set name, or the comma-separated codes as a list (checked by `spc`)."""
    codes = [code.strip() for code in rules.split(",") if code.strip()]
    if not codes:
        raise UserError("--rules needs nelson, we, none or a list of rule codes.")
    return codes[0] if len(codes) == 1 and codes[0] in RULE_SETS else codes


def _print_charts(result: spc.ChartSet) -> None:
    constants = result.extra.get("constants")
    console.print(
        f"[bold]{result.chart}[/] chart   sigma = {_fmt(result.sigma)} ({result.sigma_method})"
        + (f"   constants: {constants}" if constants else "")
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
    sigma_method: SigmaMethod | None = typer.Option(
        None,
        "--sigma-method",
        help="Within sigma: rbar (default with --subgroup), sbar, pooled, mr (default), sd.",
    ),
    unequal_sizes: UnequalSizes = typer.Option(
        UnequalSizes.weighted,
        "--unequal-sizes",
        help="Unequal subgroup sizes: ASTM E2587 weighting, or unweighted (as qcc).",
    ),
    constants: Constants = typer.Option(
        Constants.exact, "--constants", help="d2, d3, c4: exact, table (Montgomery/ASTM) or qcc."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Process capability (Cp, Cpk, Cpm within; Pp, Ppk, Ppm overall) with CIs and ppm."""
    if not lsl < usl:
        raise UserError(f"--lsl ({lsl:g}) must be below --usl ({usl:g}).")
    frame, dropped = _read(file, [value, *([subgroup] if subgroup else [])])
    _note_dropped(dropped)
    x = _numeric(frame, value, file)
    labels = frame[subgroup].to_numpy() if subgroup else None
    result = spc.capability(
        x, labels, lsl=lsl, usl=usl, target=target, confidence=confidence,
        sigma_method=sigma_method.value if sigma_method else None, constants=constants.value,
        unequal=unequal_sizes.value,
    )  # fmt: skip
    payload = result.to_dict()
    payload["settings"] = {
        "constants": constants.value,
        "sigma_method": result.sigma_method,
        "unequal_sizes": unequal_sizes.value,
        "confidence": confidence,
        "target": result.target,
    }
    payload["dropped_rows"] = dropped
    if as_json:
        typer.echo(json.dumps(payload, allow_nan=False))
        return
    table = Table(title=f"capability of {value}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("n", "mean", "sigma_within", "sigma_overall", "cp", "cpk", "cpl", "cpu", "cpm",
                "pp", "ppk", "ppm"):  # fmt: skip
        sigma_used = payload["index_sigma"].get(key)
        label = f"{key} ({sigma_used} sigma)" if sigma_used else key
        table.add_row(label, _fmt(payload[key]) if payload[key] is not None else "-")
    level = f"{confidence:.0%}"
    for key, (low, high) in payload["ci"].items():
        table.add_row(f"{key} {level} CI", f"{_fmt(low)} .. {_fmt(high)}")
    table.add_row("normality (AD) p", _fmt(payload["normality"]["p_value"]))
    nonconforming = payload["nonconforming_ppm"]
    table.add_row("expected nonconforming ppm (within)", _fmt(nonconforming["within_total"]))
    table.add_row("expected nonconforming ppm (overall)", _fmt(nonconforming["overall_total"]))
    console.print(table)
