"""One table says what each role may do: operators alarms and control, quality also limits and
lots, admins users only."""

from __future__ import annotations

import pytest

from plantqc.users import PERMISSIONS, Action, Role, may


def test_an_operator_may_act_on_alarms_and_control_loops_and_nothing_else() -> None:
    granted = {a for a in Action if may("operator", a)}
    assert {str(a) for a in granted} == {
        "alarm.ack", "alarm.shelve", "alarm.comment",
        "control.mode", "control.accept", "control.reject",
    }  # fmt: skip


def test_quality_may_do_what_an_operator_may_and_freeze_limits_sign_release_and_hold_lots() -> None:
    extra = PERMISSIONS[Role.QUALITY] - PERMISSIONS[Role.OPERATOR]
    assert PERMISSIONS[Role.OPERATOR] < PERMISSIONS[Role.QUALITY]
    assert {str(a) for a in extra} == {"limits.freeze", "report.sign", "lot.release", "lot.hold"}


def test_an_admin_may_manage_users_and_nobody_else_may() -> None:
    assert [r for r in Role if may(r, "users.manage")] == [Role.ADMIN]
    assert not may("admin", "report.sign")


def test_an_unknown_action_is_an_error_rather_than_a_silent_refusal() -> None:
    with pytest.raises(ValueError):
        may("quality", "report.sgn")
