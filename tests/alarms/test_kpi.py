"""EEMUA 191 figures (`plantqc.alarms.kpi`) on hand-built alarm histories: the ground truth
is counted by hand from each history, by the definitions of EEMUA 191 3rd ed. §6 / Table 35
(alarm rate, peak per fixed 10-minute period, flood above 10 in 10 min) and ISA-18.2 §16.6
(chattering, stale)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plantqc.alarms.kpi import AlarmHistory, Change, LineKpi, TopAlarm, line_kpi
from plantqc.store.models import AlarmState

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
AU = AlarmState.ACTIVE_UNACKED
AA = AlarmState.ACTIVE_ACKED
RU = AlarmState.RTN_UNACKED
N = AlarmState.NORMAL
SH = AlarmState.SHELVED


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def raised(*seconds: float, tag: str | None = "gap_um", rule: str = "nelson1") -> AlarmHistory:
    """One alarm that returns after each activation and is raised again (reactivated) at
    ``seconds`` after T0; returned half a second after each."""
    changes = []
    for s in seconds:
        changes += [Change(at(s), AU, annunciated=True), Change(at(s + 0.5), RU)]
    return AlarmHistory(tag, rule, changes)


def one(history: AlarmHistory, end_s: float, start_s: float = 0.0) -> LineKpi:
    return line_kpi("line-1", [history], at(start_s), at(end_s))


def test_an_audit_raise_or_reactivation_is_an_alarm_only_when_it_is_annunciated() -> None:
    assert [
        Change.from_audit(action, state, T0).annunciated
        for action, state in (
            ("alarm-raise", "active-unacknowledged"),
            ("alarm-reactivate", "active-unacknowledged"),
            ("alarm-raise", "suppressed-by-design"),  # raised while the line is stopped
            ("alarm-unshelve", "active-unacknowledged"),  # the same alarm, shown again
            ("alarm-ack", "active-acknowledged"),
        )
    ] == [True, True, False, False, False]


def test_the_alarm_rate_is_the_alarms_in_the_period_per_hour_of_it() -> None:
    # 6 alarms in 2 h, one before the period and one after it: 6 / 2 h = 3 per hour
    kpi = one(raised(-1, 0, 600, 1800, 3600, 5400, 7200, 7201), end_s=7200)
    assert (kpi.hours, kpi.alarms, kpi.alarms_per_hour) == (2.0, 6, 3.0)


def test_a_period_of_no_length_has_no_rate() -> None:
    kpi = one(raised(0), end_s=0)
    assert (kpi.hours, kpi.alarms, kpi.alarms_per_hour, kpi.peak_per_10min) == (0.0, 1, None, 1)


def test_eleven_alarms_in_one_fixed_10_minute_period_are_a_flood() -> None:
    # 11 alarms in [0, 10 min) of a 1 h period: 1 of 6 periods in flood
    kpi = one(raised(*range(0, 550, 50)), end_s=3600)
    assert (kpi.alarms, kpi.peak_per_10min, kpi.flood_pct) == (11, 11, pytest.approx(100 / 6))


def test_ten_alarms_in_10_minutes_are_not_a_flood() -> None:
    kpi = one(raised(*range(0, 500, 50)), end_s=3600)
    assert (kpi.peak_per_10min, kpi.flood_pct) == (10, 0.0)


def test_the_10_minute_periods_are_fixed_from_the_start_not_sliding() -> None:
    # 12 alarms within 110 s, 6 either side of the 10:00 boundary: no fixed period floods
    kpi = one(raised(*range(545, 600, 10), *range(600, 655, 10)), end_s=1200)
    assert (kpi.alarms, kpi.peak_per_10min, kpi.flood_pct) == (12, 6, 0.0)


def test_the_last_period_may_be_shorter_and_holds_an_alarm_at_the_end() -> None:
    # 25 min: periods [0, 10), [10, 20), [20, 25]; 11 alarms in the last, one exactly at 25:00
    kpi = one(raised(*range(1260, 1500, 24), 1500), end_s=1500)
    assert (kpi.alarms, kpi.peak_per_10min, kpi.flood_pct) == (11, 11, pytest.approx(100 / 3))


def test_three_activations_of_one_alarm_within_a_minute_are_chattering() -> None:
    assert one(raised(100, 130, 160), end_s=3600).chattering == 1


def test_three_activations_spread_over_more_than_a_minute_are_not_chattering() -> None:
    assert one(raised(100, 130, 160.5), end_s=3600).chattering == 0


def test_activations_of_different_alarms_do_not_make_one_chatter() -> None:
    histories = [raised(100, 110), raised(120, tag="speed_m_min")]
    assert line_kpi("line-1", histories, T0, at(3600)).chattering == 0


def test_activations_of_one_tag_and_rule_on_successive_alarm_rows_are_one_alarm() -> None:
    # acknowledged back to normal in between, so each activation opened a new row
    histories = [raised(100), raised(120), raised(140), raised(900, rule="nelson2")]
    kpi = line_kpi("line-1", histories, T0, at(3600))
    assert (kpi.chattering, kpi.top) == (
        1,
        [TopAlarm("gap_um", "nelson1", 3), TopAlarm("gap_um", "nelson2", 1)],
    )


def test_an_alarm_active_for_more_than_24_hours_is_stale_acknowledged_or_not() -> None:
    end = 25 * 3600.0
    unacked = AlarmHistory("gap_um", "nelson1", [Change(at(0), AU, True)])
    acked = AlarmHistory("web_um", "nelson1", [Change(at(0), AU, True), Change(at(60), AA)])
    recent = AlarmHistory("die_c", "nelson1", [Change(at(end - 23 * 3600), AU, True)])
    returned = AlarmHistory("roll_c", "nelson1", [Change(at(0), AU, True), Change(at(9), RU)])
    kpi = line_kpi("line-1", [unacked, acked, recent, returned], at(end - 3600), at(end))
    assert kpi.stale == 2


def test_an_alarm_active_again_after_returning_is_stale_from_its_reactivation() -> None:
    history = AlarmHistory(
        "gap_um", "nelson1", [Change(at(0), AU, True), Change(at(10), RU), Change(at(7200), AU)]
    )
    assert one(history, end_s=25 * 3600).stale == 0


def test_an_alarm_shelved_at_the_end_of_the_period_counts_as_shelved() -> None:
    shelved = AlarmHistory("gap_um", "nelson1", [Change(at(0), AU, True), Change(at(60), SH)])
    unshelved = AlarmHistory(
        "web_um", "nelson1", [Change(at(0), AU, True), Change(at(60), SH), Change(at(900), N)]
    )
    assert line_kpi("line-1", [shelved, unshelved], T0, at(3600)).shelved == 1


def test_a_change_after_the_end_of_the_period_does_not_count_for_its_state() -> None:
    history = AlarmHistory("gap_um", "nelson1", [Change(at(0), AU, True), Change(at(4000), SH)])
    assert one(history, end_s=3600).shelved == 0


def test_the_top_alarms_are_the_ten_most_frequent_most_first_then_by_tag_and_rule() -> None:
    histories = [raised(*range(0, 600 * n, 600), tag=f"tag{n:02d}") for n in range(1, 13)]
    histories.append(raised(0, 600, tag=None, rule="buffer-full"))  # a line's own condition
    kpi = line_kpi("line-1", histories, T0, at(12 * 3600))
    assert [(t.tag, t.count) for t in kpi.top] == [(f"tag{n:02d}", n) for n in range(12, 2, -1)]
    assert kpi.as_dict()["top"][0] == {"tag": "tag12", "rule": "nelson1", "count": 12}


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        line_kpi("line-1", [], at(10), at(0))
