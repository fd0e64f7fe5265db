"""Inline SVG figures of a report: control charts, histograms against spec limits, profiles.

Drawn directly as SVG elements rather than through matplotlib: a report of 200 characteristics
has 400 figures, and matplotlib's fixed cost per figure (about 0.1 s) would dominate the time
to issue it.  Text is real SVG text, so the figures print sharp and their labels can be
searched in the PDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from plantqc.reports.compute import ChartPlot, Histogram, ProfileSummary

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 10, 30
COLOURS = {
    "data": "#1f4e79",
    "band": "#9dc3e6",
    "limit": "#c00000",
    "center": "#2e7d32",
    "spec": "#7030a0",
    "mark": "#e36c09",
    "axis": "#404040",
    "grid": "#d9d9d9",
}
SECOND_SERIES = "#5b9bd5"
TIME_STEPS_S = (
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering ``[low, high]``."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def time_ticks(low_s: float, high_s: float, count: int = 6) -> list[tuple[float, str]]:
    """Ticks at whole minutes / hours / days (UTC) with labels ``HH:MM``, dated when needed."""
    span = max(high_s - low_s, 1.0)
    step = next((s for s in TIME_STEPS_S if span / s <= count), TIME_STEPS_S[-1])
    first = math.ceil(low_s / step) * step
    fmt = "%m-%d %H:%M" if span > 86400 or step >= 86400 else "%H:%M"
    ticks = []
    value = first
    while value <= high_s:
        ticks.append((value, datetime.fromtimestamp(value, UTC).strftime(fmt)))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:.4g}"


class Frame:
    """Data-to-pixel mapping of one plot area and the axes drawn around it."""

    def __init__(
        self,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        width: int = WIDTH,
        height: int = HEIGHT,
    ) -> None:
        self.width, self.height = width, height
        x0, x1 = x_range
        y0, y1 = y_range
        if not x1 > x0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if not y1 > y0:
            pad = abs(y0) * 0.01 or 0.5
            y0, y1 = y0 - pad, y1 + pad
        pad = (y1 - y0) * 0.06
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0 - pad, y1 + pad
        self.parts: list[str] = []

    def sx(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (self.width - LEFT - RIGHT)

    def sy(self, y: float) -> float:
        return TOP + (self.y1 - y) / (self.y1 - self.y0) * (self.height - TOP - BOTTOM)

    def points(self, xs: Sequence[float], ys: Sequence[float]) -> str:
        return " ".join(
            f"{self.sx(x):.1f},{self.sy(y):.1f}"
            for x, y in zip(xs, ys, strict=True)
            if math.isfinite(y)
        )

    def axes(self, x_ticks: Sequence[tuple[float, str]], y_label: str) -> None:
        bottom, right = self.height - BOTTOM, self.width - RIGHT
        for y in nice_ticks(self.y0, self.y1):
            py = self.sy(y)
            self.parts.append(
                f'<line x1="{LEFT}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" '
                f'stroke="{COLOURS["grid"]}" stroke-width="0.5"/>'
                f'<text x="{LEFT - 4}" y="{py + 3:.1f}" text-anchor="end">{_label(y)}</text>'
            )
        for x, label in x_ticks:
            px = self.sx(x)
            self.parts.append(
                f'<line x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 4}" '
                f'stroke="{COLOURS["axis"]}"/>'
                f'<text x="{px:.1f}" y="{bottom + 15}" text-anchor="middle">{escape(label)}</text>'
            )
        self.parts.append(
            f'<rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}" '
            f'fill="none" stroke="{COLOURS["axis"]}" stroke-width="0.8"/>'
            f'<text x="12" y="{(TOP + bottom) / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {(TOP + bottom) / 2:.1f})">{escape(y_label)}</text>'
        )

    def hline(self, y: float | None, colour: str, label: str) -> None:
        """A dashed horizontal line across the plot area at ``y``, labelled at its right end."""
        if y is None or not math.isfinite(y) or not self.y0 <= y <= self.y1:
            return
        py = self.sy(y)
        self.parts.append(
            f'<line x1="{LEFT}" y1="{py:.1f}" x2="{self.width - RIGHT}" y2="{py:.1f}" '
            f'stroke="{colour}" stroke-width="1" stroke-dasharray="5 3"/>'
        )
        self.label(y, colour, label)

    def label(self, y: float, colour: str, text: str) -> None:
        """``text`` at the right end of the plot area, just above height ``y``."""
        if not math.isfinite(y) or not self.y0 <= y <= self.y1:
            return
        self.parts.append(
            f'<text x="{self.width - RIGHT - 2}" y="{self.sy(y) - 2:.1f}" text-anchor="end" '
            f'fill="{colour}">{escape(text)}</text>'
        )

    def vline(self, x: float | None, colour: str, label: str) -> None:
        if x is None or not self.x0 <= x <= self.x1:
            return
        px = self.sx(x)
        self.parts.append(
            f'<line x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{self.height - BOTTOM}" '
            f'stroke="{colour}" stroke-width="1.2" stroke-dasharray="5 3"/>'
            f'<text x="{px + 2:.1f}" y="{TOP + 10}" fill="{colour}">{escape(label)}</text>'
        )

    def polyline(self, xs: Sequence[float], ys: Sequence[float], colour: str, width: float) -> None:
        self.parts.append(
            f'<polyline points="{self.points(xs, ys)}" fill="none" stroke="{colour}" '
            f'stroke-width="{width}" stroke-linejoin="round"/>'
        )

    def band(self, xs: Sequence[float], low: Sequence[float], high: Sequence[float]) -> None:
        outline = self.points(xs, high) + " " + self.points(xs[::-1], low[::-1])
        self.parts.append(f'<polygon points="{outline}" fill="{COLOURS["band"]}" stroke="none"/>')

    def svg(self, title: str) -> str:
        body = "".join(self.parts)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'class="figure" role="img" font-family="DejaVu Sans, sans-serif" font-size="9" '
            f'fill="{COLOURS["axis"]}"><title>{escape(title)}</title>{body}</svg>'
        )


def _range(*groups: Sequence[float | None]) -> tuple[float, float]:
    values = [v for group in groups for v in group if v is not None and math.isfinite(v)]
    return (min(values), max(values)) if values else (0.0, 1.0)


def chart_svg(plot: ChartPlot, title: str, y_label: str) -> str:
    """A control chart: the statistic (with its min-max band when bucketed), center line,
    control limits (labelled with their last values), a dashed line where another limits
    version came into force, and the points where a rule signalled."""
    all_values = [v for mean, low, high in plot.lines.values() for v in (*low, *high)]
    frame = Frame((plot.x[0], plot.x[-1]), _range(all_values, plot.ucl, plot.lcl, plot.center))
    frame.axes(time_ticks(plot.x[0], plot.x[-1]), y_label)
    for index, (mean, low, high) in enumerate(plot.lines.values()):
        if low != high:
            frame.band(plot.x, low, high)
        frame.polyline(plot.x, mean, COLOURS["data"] if index == 0 else SECOND_SERIES, 0.9)
    for name, line, colour in (
        ("UCL", plot.ucl, COLOURS["limit"]),
        ("CL", plot.center, COLOURS["center"]),
        ("LCL", plot.lcl, COLOURS["limit"]),
    ):
        frame.polyline(plot.x, line, colour, 1.0)
        frame.label(line[-1], colour, f"{name} {_label(line[-1])}")
    for x, label in plot.changes:
        frame.vline(x, COLOURS["axis"], label)
    for x, y in plot.marks:
        frame.parts.append(
            f'<circle cx="{frame.sx(x):.1f}" cy="{frame.sy(y):.1f}" r="2.6" '
            f'fill="none" stroke="{COLOURS["mark"]}" stroke-width="1.2"/>'
        )
    return frame.svg(title)


def histogram_svg(
    histogram: Histogram,
    title: str,
    unit: str,
    lsl: float | None = None,
    target: float | None = None,
    usl: float | None = None,
    width: int = 320,
) -> str:
    """Histogram of a characteristic with its spec limits and the fitted normal density."""
    edges, counts = histogram.edges, histogram.counts
    frame = Frame((edges[0], edges[-1]), (0.0, max(max(counts), 1)), width=width)
    frame.axes([(x, _label(x)) for x in nice_ticks(edges[0], edges[-1], 4)], "count")
    base = frame.sy(0.0)
    for left, right, count in zip(edges[:-1], edges[1:], counts, strict=True):
        if count:
            top = frame.sy(count)
            frame.parts.append(
                f'<rect x="{frame.sx(left):.1f}" y="{top:.1f}" '
                f'width="{max(frame.sx(right) - frame.sx(left) - 0.4, 0.4):.1f}" '
                f'height="{base - top:.1f}" fill="{COLOURS["band"]}" stroke="{COLOURS["data"]}" '
                f'stroke-width="0.3"/>'
            )
    if histogram.mean is not None and histogram.sigma:
        mean, sigma = histogram.mean, histogram.sigma
        scale = sum(counts) * (edges[1] - edges[0]) / (sigma * math.sqrt(2 * math.pi))
        xs = [edges[0] + (edges[-1] - edges[0]) * i / 120 for i in range(121)]
        ys = [scale * math.exp(-0.5 * ((x - mean) / sigma) ** 2) for x in xs]
        frame.polyline(xs, [min(y, frame.y1) for y in ys], COLOURS["data"], 1.0)
    frame.vline(lsl, COLOURS["spec"], "LSL")
    frame.vline(usl, COLOURS["spec"], "USL")
    frame.vline(target, COLOURS["center"], "T")
    return frame.svg(f"{title} [{unit}]" if unit else title)


def profile_svg(profile: ProfileSummary, title: str) -> str:
    """The lot's mean cross-direction profile with the per-lane min-max band and spec limits."""
    lanes = list(range(1, profile.lanes + 1))
    frame = Frame(
        (1, profile.lanes),
        _range(profile.minimum, profile.maximum, [profile.lsl, profile.usl]),
    )
    frame.axes([(x, f"{x:g}") for x in nice_ticks(1, profile.lanes, 6)], profile.unit)
    frame.band(lanes, profile.minimum, profile.maximum)
    frame.polyline(lanes, profile.mean, COLOURS["data"], 1.2)
    frame.hline(profile.lsl, COLOURS["spec"], "LSL")
    frame.hline(profile.usl, COLOURS["spec"], "USL")
    return frame.svg(title)


def line_svg(
    xs: Sequence[float],
    ys: Sequence[float],
    title: str,
    y_label: str,
    limits: Sequence[tuple[str, float | None]] = (),
) -> str:
    """A plain line plot (e.g. a cross-section's thickness along the image) with labelled
    horizontal limits."""
    frame = Frame((xs[0], xs[-1]), _range(ys, [v for _, v in limits]))
    frame.axes([(x, _label(x)) for x in nice_ticks(xs[0], xs[-1], 6)], y_label)
    frame.polyline(xs, ys, COLOURS["data"], 1.0)
    for label, value in limits:
        frame.hline(value, COLOURS["spec"], label)
    return frame.svg(title)
