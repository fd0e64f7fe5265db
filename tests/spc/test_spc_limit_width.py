"""The beyond-limits test (Nelson 1 / WE 1) at a chart's own width L, batch and streaming alike.

Exact ground truth: center 10, sigma 1, L = 4; a point at 13.5 lies beyond the 3-sigma line and
inside the 4-sigma limits, one at 14.5 beyond them.  The zone rules keep their 1- and 2-sigma
lines whatever L is (Nelson 1984: the zones are fixed multiples of sigma).
"""

from __future__ import annotations

import numpy as np

import spc
from spc import IMRStream, ShewhartLimits, XbarStream

WIDE = ShewhartLimits(10.0, 1.0, "given", L=4.0)
VALUES = np.array([10.0, 13.5, 10.0, 14.5, 10.0])


def test_a_point_inside_l_sigma_limits_is_not_beyond_them_in_a_batch_chart() -> None:
    chart = spc.imr(VALUES, limits=WIDE, rules="nelson1").charts["i"]
    assert chart.signals["nelson1"].tolist() == [3]
    assert chart.ucl[0] == 14.0


def test_the_streaming_chart_signals_where_the_batch_chart_does() -> None:
    stream = IMRStream(WIDE, "nelson1")
    hits = [i for i, x in enumerate(VALUES) if "nelson1" in stream.update(x)[0].violations]
    assert hits == [3]


def test_the_streaming_width_survives_a_restart() -> None:
    stream = IMRStream(WIDE, ["we1"])
    stream.update(10.0)
    again = IMRStream.from_state(stream.to_state())
    assert again.update(13.5)[0].violations == ()
    assert again.update(14.5)[0].violations == ("we1",)


def test_an_xbar_point_is_judged_at_l_sigma_of_the_mean() -> None:
    # subgroups of 4: sigma of the mean 0.5, limits 10 +/- 2; a mean of 11.75 is inside
    stream = XbarStream(WIDE, 4, "r", "nelson1")
    for x in (11.5, 12.0, 11.5, 12.0):
        points = stream.update(x)
    assert points[0].value == 11.75 and points[0].violations == ()
    for x in (12.5, 12.0, 12.5, 12.0):
        points = stream.update(x)
    assert points[0].value == 12.25 and points[0].violations == ("nelson1",)


def test_zone_rules_keep_their_two_sigma_line_on_wide_limits() -> None:
    # Nelson 5: two of three points beyond 2 sigma on one side
    values = np.array([10.0, 12.5, 10.0, 12.5])
    chart = spc.imr(values, limits=WIDE, rules=["nelson1", "nelson5"]).charts["i"]
    assert chart.signals["nelson5"].tolist() == [3]
    assert chart.signals["nelson1"].tolist() == []
