"""Streaming evaluators: same results as the batch charts, and exact resume from saved state."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spc import (
    CUSUMParameters,
    CUSUMStream,
    EWMAParameters,
    EWMAStream,
    IMRStream,
    RuleEvaluator,
    ShewhartLimits,
    XbarStream,
    cusum,
    ewma,
    imr,
    rule_signals,
    xbar_r,
    xbar_s,
)

LIMITS = ShewhartLimits(center=0.0, sigma=1.0, sigma_method="given")
# Multiples of 0.5 sigma hit the zone boundaries (1, 2, 3) exactly and repeat values, which
# exercises the strict inequalities and the ties of the trend and alternation rules.
ON_GRID = st.lists(st.integers(-8, 8).map(lambda i: i * 0.5), min_size=2, max_size=150)
CONTINUOUS = st.lists(
    st.floats(-6, 6, allow_nan=False, allow_infinity=False), min_size=2, max_size=150
)
SERIES = st.one_of(ON_GRID, CONTINUOUS)


def _stream(stream, values):
    return [point for value in values for point in stream.update(value)]


def _by_chart(points, name):
    chosen = [p for p in points if p.chart == name]
    return np.array([p.value for p in chosen]), [list(p.violations) for p in chosen]


@settings(max_examples=60, deadline=None)
@given(values=SERIES, rules=st.sampled_from(["nelson", "we"]))
def test_rule_evaluator_equals_batch_rules(values, rules) -> None:
    x = np.array(values)
    evaluator = RuleEvaluator(rules)
    streamed = [list(evaluator.update(v, v)) for v in values]
    masks = rule_signals(x, 0.0, 1.0, rules)
    batch = [[code for code, mask in masks.items() if mask[i]] for i in range(x.size)]
    assert streamed == batch


@settings(max_examples=40, deadline=None)
@given(values=SERIES)
def test_imr_stream_equals_batch(values) -> None:
    batch = imr(values, limits=LIMITS)
    points = _stream(IMRStream(LIMITS), values)
    for name in ("i", "mr"):
        streamed, codes = _by_chart(points, name)
        assert np.array_equal(streamed, batch[name].values)
        assert codes == batch[name].codes_at()


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(-6, 6, allow_nan=False), min_size=8, max_size=120),
       size=st.integers(2, 4), dispersion=st.sampled_from(["r", "s"]))  # fmt: skip
def test_xbar_stream_equals_batch(values, size, dispersion) -> None:
    usable = len(values) // size * size
    matrix = np.array(values[:usable]).reshape(-1, size)
    chart_function = xbar_r if dispersion == "r" else xbar_s
    batch = chart_function(matrix, limits=LIMITS)
    points = _stream(XbarStream(LIMITS, size, dispersion), values)
    for name in ("xbar", dispersion):
        streamed, codes = _by_chart(points, name)
        assert np.allclose(streamed, batch[name].values, rtol=0, atol=1e-12)
        assert codes == batch[name].codes_at()


@settings(max_examples=40, deadline=None)
@given(values=SERIES, lam=st.sampled_from([0.05, 0.2, 1.0]))
def test_ewma_stream_equals_batch(values, lam) -> None:
    parameters = EWMAParameters(target=0.0, sigma=1.0, lam=lam, L=2.7)
    batch = ewma(values, parameters=parameters)["ewma"]
    streamed, codes = _by_chart(_stream(EWMAStream(parameters), values), "ewma")
    assert np.allclose(streamed, batch.values, rtol=0, atol=1e-12)
    assert codes == batch.codes_at()


@settings(max_examples=40, deadline=None)
@given(values=CONTINUOUS, fir=st.booleans())
def test_cusum_stream_equals_batch(values, fir) -> None:
    parameters = CUSUMParameters(0.0, 1.0, 0.5, 4.0, 2.0 if fir else 0.0)
    batch = cusum(values, parameters=parameters)
    points = _stream(CUSUMStream(parameters), values)
    for name in ("cusum_upper", "cusum_lower"):
        streamed, codes = _by_chart(points, name)
        assert np.allclose(streamed, batch[name].values, rtol=0, atol=1e-9)
        assert codes == batch[name].codes_at()


STREAMS = {
    "imr": lambda: IMRStream(LIMITS),
    "xbar": lambda: XbarStream(LIMITS, 3, "s", "we"),
    "ewma": lambda: EWMAStream(EWMAParameters(0.0, 1.0, 0.1, 2.7)),
    "cusum": lambda: CUSUMStream(CUSUMParameters(0.0, 1.0, 0.5, 5.0, 2.5)),
}


@settings(max_examples=40, deadline=None)
@given(values=SERIES, cut=st.integers(0, 150), kind=st.sampled_from(sorted(STREAMS)))
def test_state_round_trip_through_json_resumes_exactly(values, cut, kind) -> None:
    cut = min(cut, len(values))
    uninterrupted = _stream(STREAMS[kind](), values)
    first = STREAMS[kind]()
    before = _stream(first, values[:cut])
    state = json.loads(json.dumps(first.to_state()))
    resumed = type(first).from_state(state)
    after = _stream(resumed, values[cut:])
    assert before + after == uninterrupted


def test_xbar_stream_uses_the_constants_of_its_limits(spc_data) -> None:
    # Limits estimated with table constants chart the stream with the same d2 / d3.
    d = spc_data("pistonrings_phase1")
    batch = xbar_r(d.value, d.subgroup, constants="table")
    stream = XbarStream(batch.limits, 5, "r", rules="none")
    points = [p for v in d.value for p in stream.update(float(v)) if p.chart == "r"]
    assert points[0].ucl == pytest.approx(batch["r"].ucl[0], rel=1e-12)
    assert batch.limits.constants == "table"
