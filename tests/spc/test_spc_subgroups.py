"""Rational subgroups (`spc.subgroups`): membership by count, time window and span, and the
point each subgroup makes; every expectation is worked out by hand from the definition."""

from __future__ import annotations

import numpy as np
import pytest

from spc.subgroups import OUTSIDE, count_labels, points, span_keys, window_keys


def test_window_keys_count_whole_windows_since_the_epoch() -> None:
    # 10 s windows: 0..9.999999 s is window 0, 10 s starts window 1; before the epoch, -1
    times_us = np.array([0, 9_999_999, 10_000_000, 25_000_000, -1])
    assert window_keys(times_us, 10_000_000).tolist() == [0, 0, 1, 2, -1]


def test_span_keys_hold_start_inclusive_end_exclusive() -> None:
    # spans [5, 23), [23, 41), [41, open): 4 is before every span, 23 is in the second
    keys = span_keys([4.0, 5.0, 22.9, 23.0, 41.0, 1e9], [5.0, 23.0, 41.0], [23.0, 41.0, np.inf])
    assert keys.tolist() == [OUTSIDE, 0, 0, 1, 2, 2]


def test_span_keys_leave_out_the_gap_after_a_span_ended() -> None:
    keys = span_keys([1.0, 2.5, 3.0], [0.0, 3.0], [2.0, np.inf])
    assert keys.tolist() == [0, OUTSIDE, 1]


def test_count_labels_drop_the_trailing_partial_subgroup() -> None:
    assert count_labels(11, 5).tolist() == [0] * 5 + [1] * 5


def test_count_subgroups_of_an_xbar_chart_are_stamped_at_their_last_member() -> None:
    found = points(np.arange(7.0), np.arange(7.0) * 2, xbar=True, size=3)
    assert found.labels is not None and found.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert found.point_times.tolist() == [2.0, 5.0]
    assert found.values.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_an_individuals_chart_by_key_charts_each_subgroup_mean() -> None:
    found = points([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 10.0, 20.0], xbar=False, keys=[7, 7, 8, 8])
    assert found.labels is None
    assert found.values.tolist() == [1.5, 15.0]
    assert found.point_times.tolist() == [2.0, 4.0]


def test_an_xbar_chart_by_key_skips_subgroups_of_one_and_values_outside_every_span() -> None:
    found = points(
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        xbar=True,
        keys=[OUTSIDE, 0, 0, 1, 2, 2],
    )
    assert found.values.tolist() == [2.0, 3.0, 5.0, 6.0]
    assert found.labels is not None and found.labels.tolist() == [0, 0, 1, 1]
    assert found.point_times.tolist() == [3.0, 6.0]


def test_a_window_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_us must be positive"):
        window_keys([0], 0)
