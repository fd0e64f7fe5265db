"""Macro expansion and interval arithmetic, against the expectations in Grafana's own tests.

References: grafana/pkg/tsdb/grafana-postgresql-datasource/macros_test.go (expected SQL for a
fixed time range), pkg/tsdb/intervalv2/intervalv2_test.go (rounded intervals).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plantqc.errors import UserError
from plantqc.grafana.macros import (
    ALL,
    TimeRange,
    expand_macros,
    format_interval,
    interpolate_variables,
    parse_interval_ms,
    round_interval_ms,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
TO = FROM + timedelta(minutes=5)
RANGE = TimeRange(FROM, TO, 1000)


def test_time_filter_is_an_inclusive_rfc3339_between() -> None:
    assert (
        expand_macros("WHERE $__timeFilter(time_column)", RANGE)
        == "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'"
    )


def test_time_group_floors_epoch_seconds_to_the_interval() -> None:
    assert (
        expand_macros("GROUP BY $__timeGroup(time_column,'5m')", RANGE)
        == "GROUP BY floor(extract(epoch from time_column)/300)*300"
    )


def test_time_group_alias_names_the_column_time() -> None:
    assert (
        expand_macros("SELECT $__timeGroupAlias(time_column,'5m')", RANGE)
        == 'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"'
    )


def test_time_group_followed_by_a_comma_gets_the_alias_as_before_grafana_5_3() -> None:
    assert expand_macros("SELECT $__timeGroup(c,'1h'), v", RANGE).startswith(
        'SELECT floor(extract(epoch from c)/3600)*3600 AS "time",'
    )


def test_time_from_to_and_unix_epoch_filter() -> None:
    assert expand_macros("$__timeFrom() $__timeTo()", RANGE) == (
        "'2018-04-12T18:00:00Z' '2018-04-12T18:05:00Z'"
    )
    assert expand_macros("$__unixEpochFilter(t)", RANGE) == "t >= 1523556000 AND t <= 1523556300"


def test_interval_variables_are_substituted_before_macros() -> None:
    assert expand_macros("$__interval_ms $__timeGroup(t, $__interval)", RANGE) == (
        "1000 floor(extract(epoch from t)/1)*1"
    )


def test_unknown_macro_is_one_sentence() -> None:
    with pytest.raises(UserError, match=r"^unknown macro \$__nope in a PostgreSQL query\.$"):
        expand_macros("$__nope(x)", RANGE)


@pytest.mark.parametrize(
    ("interval_ms", "rounded_ms"),
    [
        (10, 1),
        (20, 20),
        (1_400, 1_000),
        (3_600, 5_000),
        (604_800, 600_000),
        (86_400_000, 43_200_000),
    ],
)
def test_round_interval_snaps_to_grafanas_nice_intervals(interval_ms: int, rounded_ms: int) -> None:
    assert round_interval_ms(interval_ms) == rounded_ms


def test_panel_interval_is_range_over_max_data_points_rounded_and_floored() -> None:
    week = TimeRange.for_panel(TO - timedelta(days=7), TO, 1000)
    assert (week.interval_ms, format_interval(week.interval_ms)) == (600_000, "10m")
    assert TimeRange.for_panel(FROM, TO, 1000, "1s").interval_ms == 1_000


def test_parse_interval_units() -> None:
    assert [parse_interval_ms(t) for t in ("500ms", "'5m'", "1h", "1d", "1w")] == [
        500,
        300_000,
        3_600_000,
        86_400_000,
        604_800_000,
    ]


def test_malformed_interval_is_one_sentence() -> None:
    with pytest.raises(UserError, match=r"^interval '5 minutes' is not a Grafana interval"):
        parse_interval_ms("5 minutes")


def test_sqlstring_format_quotes_and_escapes_each_value() -> None:
    assert interpolate_variables("IN (${tag:sqlstring})", {"tag": ["a", "o'b"]}) == (
        "IN ('a','o''b')"
    )


def test_bare_single_value_is_escaped_but_not_quoted_like_grafanas_sql_datasource() -> None:
    assert interpolate_variables("'$line'", {"line": "o'b"}) == "'o''b'"


def test_all_with_a_custom_all_value_is_inserted_as_is() -> None:
    assert interpolate_variables("IN (${lot:sqlstring})", {"lot": ALL}, {"lot": "'__all'"}) == (
        "IN ('__all')"
    )


def test_reversed_time_range_is_one_sentence() -> None:
    with pytest.raises(UserError, match=r"is not after its start\.$"):
        TimeRange.for_panel(TO, FROM)
