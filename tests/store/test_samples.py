"""Sample storage: idempotent bulk writes, UTC times, quality filtering and time-series queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from plantqc.store import (
    SampleRow,
    TagRef,
    TimestampOrigin,
    downsample,
    insert_samples,
    latest_values,
    read_samples,
)
from plantqc.store.gaps import GapRow, insert_gaps, read_gaps
from plantqc.store.models import Sample
from plantqc.store.samples import ProfileRow, insert_profiles, newest_times

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
BAD = 0x80000000
UNCERTAIN = 0x40000000


def series(tag_id: int, n: int, step_s: float = 1.0, seed: int = 1) -> list[SampleRow]:
    values = np.random.default_rng(seed).normal(50.0, 1.5, n)
    return [
        SampleRow(tag_id, T0 + timedelta(seconds=i * step_s), float(v))
        for i, v in enumerate(values)
    ]


def test_a_resent_batch_inserts_nothing_twice(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    rows = series(casting_tags["dry_thickness_um"].tag_id, 500)
    assert insert_samples(engine, rows) == 500
    assert insert_samples(engine, rows) == 0
    assert len(read_samples(engine, rows[0].tag_id)) == 500


def test_an_overlapping_batch_inserts_only_the_new_samples(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    rows = series(casting_tags["dry_thickness_um"].tag_id, 300)
    insert_samples(engine, rows[:200])
    assert insert_samples(engine, rows[100:]) == 100
    assert read_samples(engine, rows[0].tag_id)["value"].tolist() == [r.value for r in rows]


def test_duplicates_within_one_batch_are_stored_once(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    row = series(casting_tags["web_speed_m_min"].tag_id, 1)[0]
    assert insert_samples(engine, [row, row._replace(value=9.9)]) == 1
    assert read_samples(engine, row.tag_id)["value"].tolist() == [row.value]


def test_the_same_time_on_two_tags_is_two_samples(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    a, b = casting_tags["web_speed_m_min"].tag_id, casting_tags["pump_rate_ml_min"].tag_id
    assert insert_samples(engine, [SampleRow(a, T0, 2.0), SampleRow(b, T0, 20.0)]) == 2


def test_times_come_back_as_the_same_utc_instant(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    tag = casting_tags["web_speed_m_min"].tag_id
    cet = timezone(timedelta(hours=1))
    local = datetime(2026, 11, 22, 9, 0, 0, 123456, tzinfo=cet)
    insert_samples(engine, [SampleRow(tag, local, 2.0, 0, TimestampOrigin.SERVER)])
    frame = read_samples(engine, tag)
    assert frame["time"].iloc[0] == pd.Timestamp("2026-11-22T08:00:00.123456Z")
    assert str(frame["time"].dt.tz) == "UTC"
    assert frame["ts_origin"].iloc[0] == TimestampOrigin.SERVER


def test_a_naive_timestamp_is_refused(engine: Engine, casting_tags: dict[str, TagRef]) -> None:
    tag = casting_tags["web_speed_m_min"].tag_id
    with pytest.raises(ValueError, match="no timezone"):
        insert_samples(engine, [SampleRow(tag, datetime(2026, 1, 1), 2.0)])


def test_status_codes_are_kept_and_good_only_excludes_bad_and_uncertain(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    tag = casting_tags["dew_point_c"].tag_id
    codes = [0, BAD, UNCERTAIN, 0x00A80000, 0x808D0000]  # Good, Bad, Uncertain, GoodClamped, ...
    insert_samples(
        engine, [SampleRow(tag, T0 + timedelta(seconds=i), -45.0, c) for i, c in enumerate(codes)]
    )
    assert read_samples(engine, tag)["status"].tolist() == codes
    assert read_samples(engine, tag, good_only=True)["status"].tolist() == [0, 0x00A80000]


def test_a_time_window_is_start_inclusive_and_end_exclusive(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    rows = series(casting_tags["dry_thickness_um"].tag_id, 10)
    insert_samples(engine, rows)
    frame = read_samples(
        engine, rows[0].tag_id, T0 + timedelta(seconds=2), T0 + timedelta(seconds=5)
    )
    assert frame["value"].tolist() == [r.value for r in rows[2:5]]


def test_downsampled_buckets_match_the_defining_aggregates(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    # Reference: the definition — min, arithmetic mean, max and count of the Good samples
    # whose time falls in [bucket start, bucket start + width), as pandas computes them.
    rows = series(casting_tags["dry_thickness_um"].tag_id, 600, step_s=0.7)
    rows[7] = rows[7]._replace(status=BAD)
    insert_samples(engine, rows)
    frame = downsample(engine, rows[0].tag_id, T0, T0 + timedelta(hours=1), bucket_s=60)
    good = pd.DataFrame(
        {
            "time": [r.ts for r in rows if r.status == 0],
            "value": [r.value for r in rows if r.status == 0],
        }
    ).set_index("time")["value"]
    expected = good.resample("60s").agg(["min", "mean", "max", "count"])
    assert frame["time"].tolist() == list(expected.index)
    np.testing.assert_allclose(
        frame[["min", "mean", "max"]].to_numpy(),
        expected[["min", "mean", "max"]].to_numpy(),
        rtol=1e-12,
    )
    assert frame["count"].tolist() == expected["count"].tolist()


def test_latest_value_per_tag_is_the_newest_sample(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    speed, gap = casting_tags["web_speed_m_min"], casting_tags["slot_die_gap_um"]
    insert_samples(engine, series(speed.tag_id, 5) + series(gap.tag_id, 3, seed=2))
    latest = latest_values(engine, speed.line_id).set_index("tag")
    assert latest.loc["web_speed_m_min", "time"] == pd.Timestamp(T0 + timedelta(seconds=4))
    assert latest.loc["slot_die_gap_um", "value"] == series(gap.tag_id, 3, seed=2)[-1].value
    assert set(latest.index) == {"web_speed_m_min", "slot_die_gap_um"}


def test_a_backfilled_sample_keeps_its_mark_and_a_replayed_live_copy_does_not_clear_it(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    tag = casting_tags["dry_thickness_um"].tag_id
    read_back = SampleRow(tag, T0, 50.0, backfilled=True)
    assert insert_samples(engine, [read_back, SampleRow(tag, T0 + timedelta(seconds=1), 51.0)])
    assert insert_samples(engine, [read_back._replace(backfilled=False)]) == 0
    with engine.connect() as connection:
        marks = connection.execute(
            select(Sample.backfilled).where(Sample.tag_id == tag).order_by(Sample.ts)
        ).scalars()
        assert list(marks) == [True, False]


def test_newest_times_are_each_tags_last_sample_or_scan(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    thickness = casting_tags["dry_thickness_um"].tag_id
    profile = casting_tags["dry_thickness_profile_um"].tag_id
    insert_samples(engine, series(thickness, 30))
    insert_profiles(engine, [ProfileRow(profile, T0 + timedelta(seconds=7), [50.0, 51.0])])
    newest = newest_times(engine, [thickness, profile, casting_tags["dew_point_c"].tag_id])
    assert newest == {thickness: T0 + timedelta(seconds=29), profile: T0 + timedelta(seconds=7)}


def test_a_gap_recorded_twice_is_stored_once_with_its_bounds(
    engine: Engine, casting_tags: dict[str, TagRef]
) -> None:
    tag = casting_tags["dry_thickness_um"].tag_id
    gap = GapRow(tag, T0, T0 + timedelta(seconds=9, microseconds=1), "no history")
    assert insert_gaps(engine, [gap]) == 1
    assert insert_gaps(engine, [gap]) == 0
    gaps = read_gaps(engine, tag)
    assert gaps.to_dict("records") == [
        {"start": pd.Timestamp(T0), "end": pd.Timestamp(gap.end), "reason": "no history"}
    ]
    # a window that ends before the gap starts holds none of it
    assert read_gaps(engine, tag, end=T0).empty
