"""The loop supervisor: one test per interlock, mode and audit behaviour.

The controller is the real MD loop (`MdLoop` around a `VelocityPi`) with round gains, so the
move it wants is known exactly: ``ki * Ts = 1 mL/min per um`` of error, ``kc`` as stated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pydantic
import pytest

from plantqc.control.loop import (
    LineState,
    LoopSupervisor,
    Measurement,
    Mode,
    SupervisorSettings,
)
from plantqc.control.md import MdLoop, PiTuning, VelocityPi

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TS = timedelta(seconds=20)
TARGET = 50.0
RUNNING = LineState(running=True, speed_m_min=2.0, roll="R1", lot="L1")  # dead time 180 s


def settings(**changes: float) -> SupervisorSettings:
    base = {
        "engineering_low": 200.0,
        "engineering_high": 600.0,
        "operator_low": 350.0,
        "operator_high": 450.0,
        "max_move_per_step": 10.0,
        "max_move_per_minute": 25.0,
        "settling_s": 300.0,
        "stale_deadtimes": 3.0,
        "die_to_gauge_m": 6.0,
        "watchdog_failures": 3,
    }
    return SupervisorSettings(**(base | changes))


def supervisor(mode: Mode = Mode.CLOSED, kc: float = 0.0, **changes: float) -> LoopSupervisor:
    pi = VelocityPi(PiTuning(kc=kc, ki=0.05), sample_s=20.0)
    sup = LoopSupervisor("casting-1.md", settings(**changes), MdLoop(pi, TARGET))
    sup.set_mode(mode, time=T0, user="alice", reason="commissioning")
    return sup


def at(k: int) -> datetime:
    return T0 + k * TS


def measured(um: float, k: int, good: bool = True) -> Measurement:
    return Measurement(um, at(k), good)


def test_operator_limits_must_lie_inside_the_engineering_limits():
    with pytest.raises(pydantic.ValidationError, match="inside the engineering limits"):
        settings(operator_high=650.0)


def test_the_setpoint_never_leaves_the_operator_limits():
    sup = supervisor()
    d = sup.step(at(1), measured(TARGET - 8.0, 1), 445.0, RUNNING)  # wants 453
    assert float(d.write) == 450.0
    assert sup.write_done(at(1), ok=True)[0].reason == "controller (operator limits)"


def test_a_move_is_cut_to_the_max_move_per_step():
    sup = supervisor()
    d = sup.step(at(1), measured(TARGET - 30.0, 1), 400.0, RUNNING)  # wants +30
    assert float(d.write) == 410.0


def test_moves_in_a_sliding_minute_add_up_to_at_most_the_max_move_per_minute():
    sup = supervisor()
    setpoint, writes = 370.0, []
    for k in range(1, 7):  # every 20 s the controller wants +10 (the step limit)
        d = sup.step(at(k), measured(TARGET - 10.0, k), setpoint, RUNNING)
        sup.write_done(at(k), ok=True)
        writes.append(float(d.write) - setpoint)
        setpoint = float(d.write)
    # 10 + 10 + 5 fill the first minute; at 80 s the 20 s move has left the window
    assert writes == [10.0, 10.0, 5.0, 10.0, 10.0, 5.0]


def test_a_gauge_sensor_fault_holds_the_loop():
    sup = supervisor()
    d = sup.step(at(1), measured(TARGET - 5.0, 1, good=False), 400.0, RUNNING)
    assert d.write is None and d.proposal is None
    assert d.hold == "gauge sensor fault"
    assert [e.kind for e in d.events] == ["hold"]


def test_a_stopped_line_holds_the_loop():
    sup = supervisor()
    stopped = LineState(running=False, speed_m_min=2.0, roll="R1", lot="L1")
    d = sup.step(at(1), measured(TARGET - 5.0, 1), 400.0, stopped)
    assert d.write is None and d.hold == "line stopped"
    crawling = LineState(running=True, speed_m_min=0.0, roll="R1", lot="L1")  # no dead time
    assert sup.step(at(2), measured(TARGET - 5.0, 2), 400.0, crawling).hold == "line stopped"


def test_a_proposal_made_before_a_hold_cannot_be_accepted_after_it():
    sup = supervisor(Mode.ADVISORY)
    sup.step(at(1), measured(TARGET - 3.0, 1), 400.0, RUNNING)
    sup.step(at(2), measured(TARGET - 3.0, 2, good=False), 400.0, RUNNING)
    assert sup.accept(at(3), user="carol") == (None, [])


def test_a_measurement_older_than_n_deadtimes_holds_the_loop():
    sup = supervisor()  # 3 dead times of 180 s: 540 s
    fresh = sup.step(at(30), Measurement(TARGET - 1.0, at(30) - timedelta(seconds=539)), 400.0,
                     RUNNING)  # fmt: skip
    assert fresh.write is not None
    stale = sup.step(at(31), Measurement(TARGET - 1.0, at(31) - timedelta(seconds=541)), 400.0,
                     RUNNING)  # fmt: skip
    assert stale.write is None and stale.hold.startswith("measurement 541 s old")


def test_a_roll_change_holds_the_loop_for_the_settling_time():
    sup = supervisor(settling_s=300.0)
    assert sup.step(at(1), measured(TARGET - 1.0, 1), 400.0, RUNNING).write is not None
    new_roll = LineState(running=True, speed_m_min=2.0, roll="R2", lot="L1")
    held = [sup.step(at(k), measured(TARGET - 1.0, k), 400.0, new_roll) for k in range(2, 19)]
    assert all(d.hold and d.hold.startswith("settling") for d in held[:15])  # 2..16: < 300 s
    assert held[15].write is not None  # k = 17: 300 s after the change at k = 2
    assert [e.kind for e in held[15].events] == ["resume"]


def test_entering_closed_starts_from_the_current_setpoint_without_a_kick():
    sup = supervisor(Mode.ADVISORY, kc=2.0)
    sup.step(at(1), measured(TARGET - 4.0, 1), 400.0, RUNNING)  # the PI remembers e = 4
    events = sup.set_mode(Mode.CLOSED, time=at(2), user="bob", reason="commissioned")
    assert [(e.kind, e.user, e.old, e.new) for e in events] == [
        ("mode", "bob", "advisory", "closed")
    ]
    # the operator had moved the pump to 412 by hand; error now 1 um: no proportional kick
    # kc * (1 - 4) from the stale error, only the integral move 1 mL/min on top of 412
    d = sup.step(at(3), measured(TARGET - 1.0, 3), 412.0, RUNNING)
    assert float(d.write) == pytest.approx(413.0, abs=1e-12)


def test_resuming_after_a_hold_does_not_kick():
    sup = supervisor(kc=2.0)
    sup.step(at(1), measured(TARGET - 4.0, 1), 400.0, RUNNING)
    sup.write_done(at(1), ok=True)
    sup.step(at(2), measured(TARGET - 4.0, 2, good=False), 404.0, RUNNING)
    d = sup.step(at(3), measured(TARGET - 1.0, 3), 404.0, RUNNING)
    assert float(d.write) == pytest.approx(405.0, abs=1e-12)


def test_repeated_write_failures_drop_the_loop_to_advisory():
    sup = supervisor(watchdog_failures=3)
    kinds = []
    for k in range(1, 4):
        sup.step(at(k), measured(TARGET - 1.0, k), 400.0, RUNNING)
        kinds += [e.kind for e in sup.write_done(at(k), ok=False, detail="BadNotWritable")]
    assert kinds == ["write_failed", "write_failed", "write_failed", "mode"]
    assert sup.mode == Mode.ADVISORY
    assert sup.step(at(4), measured(TARGET - 1.0, 4), 400.0, RUNNING).write is None


def test_advisory_proposes_and_an_accepted_move_is_filed_under_the_person():
    sup = supervisor(Mode.ADVISORY)
    d = sup.step(at(1), measured(TARGET - 3.0, 1), 400.0, RUNNING)
    assert d.write is None and float(d.proposal) == 403.0
    (proposed,) = d.events
    assert (proposed.kind, proposed.user, proposed.old, proposed.new) == (
        "proposed", "plantqc", 400.0, 403.0
    )  # fmt: skip
    setpoint, events = sup.accept(at(2), user="carol")
    assert float(setpoint) == 403.0 and events[0].kind == "accepted"
    (applied,) = sup.write_done(at(2), ok=True)
    assert (applied.kind, applied.user, applied.new) == ("applied", "carol", 403.0)


def test_a_rejected_proposal_is_filed_with_the_reason_and_never_written():
    sup = supervisor(Mode.ADVISORY)
    sup.step(at(1), measured(TARGET - 3.0, 1), 400.0, RUNNING)
    (rejected,) = sup.reject(at(2), user="carol", reason="lab sample pending")
    assert (rejected.kind, rejected.reason) == ("rejected", "lab sample pending")
    assert sup.accept(at(3), user="carol") == (None, [])


def test_off_runs_nothing():
    sup = supervisor(Mode.OFF)
    d = sup.step(at(1), measured(TARGET - 3.0, 1), 400.0, RUNNING)
    assert (d.write, d.proposal, d.events) == (None, None, ())


def test_an_array_setpoint_is_limited_element_by_element():
    sup = supervisor()
    wanted = np.array([460.0, 400.0, 300.0])
    limited, why = sup.limit(at(1), np.array([445.0, 400.0, 355.0]), wanted)
    np.testing.assert_array_equal(limited, [450.0, 400.0, 350.0])
    assert why == "operator limits"


def test_a_feedforward_move_passes_the_hold_but_not_the_limits():
    sup = supervisor(settling_s=300.0)
    sup.step(at(1), measured(TARGET, 1), 400.0, RUNNING)
    new_roll = LineState(running=True, speed_m_min=2.0, roll="R2", lot="L1")
    assert sup.step(at(2), measured(TARGET, 2), 400.0, new_roll).hold.startswith("settling")
    d = sup.feedforward(at(2), 400.0, 430.0, "new slurry batch")
    assert float(d.write) == 410.0  # the max move per step still holds
    (applied,) = sup.write_done(at(2), ok=True)
    assert applied.reason == "new slurry batch (max move per step)"
