"""Series names: what each chart of a tag is called in the store, in alarm codes and on tags.

A scalar tag is one chart, named in ``control_limits.chart`` by its chart type (``imr``,
``xbar-r``, ...), its points in ``violations.chart`` by the evaluator's chart names (``i``,
``mr``, ``xbar``, ``r``, ``s``, ``ewma``, ``cusum_upper``, ``cusum_lower``).  A profile tag
(cross-direction thickness scans) is charted through per-scan statistics
(`spc.profiles.profile_statistics`), each its own chart with its own limits, named
``cd_mean``, ``cd_2sigma``, ... (`PROFILE_SERIES`) in ``control_limits.chart``, with points
``cd_mean.i``, ``cd_mean.ewma``, ``cd_2sigma.i`` ... in ``violations.chart`` and alarm codes
``cd_2sigma:nelson1`` ...  Image metrics are tags named ``<input>.<metric>``
(`image_metric_tag`) whose node id starts with `IMAGE_NODE_PREFIX`.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILE_SERIES = {
    "mean": "cd_mean", "two_sigma": "cd_2sigma", "range": "cd_range", "cv": "cd_cv",
    "wedge": "cd_wedge", "edge_left": "cd_edge_l", "edge_right": "cd_edge_r",
}  # fmt: skip
"""Chart name (``control_limits.chart``) of each per-scan statistic of a profile tag."""
CD_MEAN = PROFILE_SERIES["mean"]
"""The chart of a profile's scan mean: the profile's location, judged against its spec."""

LOCATION_POINTS = frozenset({"i", "xbar", "ewma"})
"""Evaluator chart points that chart the process location; their rules' alarm codes are the
bare rule codes (`SeriesSpec.code`)."""
CUSUM_SIDES = frozenset({"cusum_upper", "cusum_lower"})
"""The two one-sided charts of a tabular CUSUM, both on the process location."""
SPREAD_POINTS = frozenset({"mr", "r", "s"})
"""Evaluator chart points that chart the process spread (moving range, range, standard
deviation)."""
LOCATION_CHARTS = {
    "imr": ("i",),
    "xbar-r": ("xbar",),
    "xbar-s": ("xbar",),
    "ewma": ("ewma",),
    "cusum": ("cusum_upper", "cusum_lower"),
}
"""The evaluator points of each chart type that chart the process location (the others, MR,
R and S, chart its spread)."""

IMAGE_NODE_PREFIX = "plantqc:image/"
"""Node id prefix of the tags made for image metrics (`image_node_id`)."""


def image_metric_tag(input_name: str, metric: str) -> str:
    """Name of the tag under which image input ``input_name`` records ``metric``."""
    return f"{input_name}.{metric}"


def image_node_id(tag: str) -> str:
    """The node id stored for image-metric tag ``tag`` (no OPC UA node: the daemon's own)."""
    return f"{IMAGE_NODE_PREFIX}{tag}"


@dataclass(frozen=True)
class SeriesSpec:
    """One chart of a tag with its own limits: the tag's values, or a per-scan statistic.

    ``name`` is the chart's name in ``control_limits.chart``, ``chart`` its type and
    ``statistic`` the profile statistic it charts (None for a scalar tag).
    """

    name: str
    chart: str
    statistic: str | None = None

    @property
    def xbar(self) -> bool:
        """Whether a point of the chart is a subgroup's members (X-bar R / S)."""
        return self.chart.startswith("xbar")

    @property
    def unit(self) -> str:
        """What one point of the chart is, in words."""
        return "subgroups" if self.xbar else "points"

    def point_chart(self, point: str) -> str:
        """The name of an evaluator's chart point in ``violations.chart``."""
        return point if self.statistic is None else f"{self.name}.{point}"

    def code(self, point: str, rule: str) -> str:
        """The alarm code of ``rule`` signalled by an evaluator's chart point ``point``.

        A rule on the location chart is an alarm of its own, named for the rule (prefixed with
        the chart's name for a profile statistic); the same rule on the spread chart (MR, R, S)
        or on one side of a CUSUM is another condition, so another alarm, prefixed with that
        chart (``mr:nelson1``, ``cd_2sigma.mr:nelson1``).
        """
        if point not in LOCATION_POINTS:
            return f"{self.point_chart(point)}:{rule}"
        return rule if self.statistic is None else f"{self.name}:{rule}"


ALARM_PREFIXES = frozenset(
    {
        *SPREAD_POINTS,
        *CUSUM_SIDES,
        *PROFILE_SERIES.values(),
        *(f"{name}.{point}" for name in PROFILE_SERIES.values() for point in SPREAD_POINTS),
    }
)
"""The chart names an alarm code (`SeriesSpec.code`) can carry before its rule."""


def code_charts(code: str) -> tuple[frozenset[str], str]:
    """The ``violations.chart`` names whose signals raise the SPC alarm ``code``, and its
    rule: the inverse of `SeriesSpec.code`."""
    prefix, _, rule = code.rpartition(":")
    if not prefix:
        return LOCATION_POINTS, rule
    if prefix in PROFILE_SERIES.values():
        return frozenset(f"{prefix}.{point}" for point in LOCATION_POINTS), rule
    return frozenset({prefix}), rule
