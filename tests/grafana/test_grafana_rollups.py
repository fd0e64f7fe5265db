"""The hourly profile rollup stays exact as scans arrive in separate insert batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plantqc.config import PlantConfig
from plantqc.store import connect, sync_config, upgrade
from plantqc.store.samples import ProfileRow, insert_profiles

HOUR = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def test_hourly_profile_bucket_sums_every_good_scan_of_every_batch_once(
    pg_url: str, casting_config: PlantConfig
) -> None:
    engine = connect(pg_url)
    try:
        upgrade(engine)
        refs = sync_config(engine, casting_config)
        tag = refs[("casting-1", "dry_thickness_profile_um")].tag_id
        scans = [
            ProfileRow(tag, HOUR + timedelta(minutes=m), [float(m), 2.0 * m, 1.0])
            for m in (0, 17, 59)
        ]
        bad = ProfileRow(tag, HOUR + timedelta(minutes=30), [900.0, 900.0, 900.0], 0x80000000)
        next_hour = ProfileRow(tag, HOUR + timedelta(hours=1), [5.0, 5.0, 5.0])
        insert_profiles(engine, scans[:2])
        insert_profiles(engine, [scans[2], bad, next_hour])
        insert_profiles(engine, scans)  # an idempotent replay stores nothing new
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT bucket, n, sums FROM grafana.profiles_1h WHERE tag_id = %(t)s "
                "ORDER BY bucket",
                {"t": tag},
            ).all()
    finally:
        engine.dispose()
    assert [(bucket, n) for bucket, n, _ in rows] == [(HOUR, 3), (HOUR + timedelta(hours=1), 1)]
    assert rows[0].sums == pytest.approx([0 + 17 + 59, 2.0 * (0 + 17 + 59), 3.0])
    assert rows[1].sums == pytest.approx([5.0, 5.0, 5.0])
