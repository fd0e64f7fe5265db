"""SPC throughput: I-MR + EWMA + CUSUM + Nelson rules, batch and streaming, vs pandas baselines.

Both figures are measured against a straightforward pandas implementation of the same
computation in the same run: ``Series.diff``/``ewm``/``rolling`` and a Python loop for the
CUSUM (pandas has no CUSUM) for the batch path, and a per-sample pandas window evaluation for
the streaming path (measured on a prefix, since it is orders of magnitude slower).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

import spc

LAMBDA = 0.2
EWMA_L = 3.0
CUSUM_K = 0.5
CUSUM_H = 5.0


@dataclass(frozen=True)
class SPCBenchResult:
    """Throughput figures (values or samples per second) and ratios to the pandas baselines."""

    values: int
    batch_seconds: float
    batch_values_per_s: float
    baseline_batch_values_per_s: float
    batch_ratio: float
    stream_samples: int
    stream_seconds: float
    stream_samples_per_s: float
    baseline_stream_samples: int
    baseline_stream_samples_per_s: float
    stream_ratio: float
    batch_signals: int
    stream_signals: int

    def to_dict(self) -> dict[str, float | int]:
        """Flat dict for the CLI table / JSON."""
        return asdict(self)


def _batch(x: np.ndarray, limits: spc.ShewhartLimits) -> int:
    charts = spc.imr(x, limits=limits, rules="nelson")
    ewma = spc.ewma(x, parameters=spc.EWMAParameters(limits.center, limits.sigma, LAMBDA, EWMA_L))
    cusum = spc.cusum(
        x, parameters=spc.CUSUMParameters(limits.center, limits.sigma, CUSUM_K, CUSUM_H)
    )
    return sum(
        len(indices)
        for chart_set in (charts, ewma, cusum)
        for chart in chart_set.charts.values()
        for indices in chart.signals.values()
    )


def _pandas_batch(x: np.ndarray, center: float, sigma: float) -> int:
    s = pd.Series(x)
    mr = s.diff().abs()
    mr_ucl = 3.267 * sigma * 1.128
    z = (s - center) / sigma
    up, down = s.diff() > 0, s.diff() < 0
    flips = (np.sign(s.diff()) * np.sign(s.diff().shift()) < 0).astype(int)
    signals = [
        z.abs() > 3,
        ((z > 0).astype(int).rolling(9).sum() == 9) | ((z < 0).astype(int).rolling(9).sum() == 9),
        (up.astype(int).rolling(5).sum() == 5) | (down.astype(int).rolling(5).sum() == 5),
        flips.rolling(12).sum() == 12,
        ((z > 2) & ((z > 2).astype(int).rolling(3, min_periods=1).sum() >= 2))
        | ((z < -2) & ((z < -2).astype(int).rolling(3, min_periods=1).sum() >= 2)),
        ((z > 1) & ((z > 1).astype(int).rolling(5, min_periods=1).sum() >= 4))
        | ((z < -1) & ((z < -1).astype(int).rolling(5, min_periods=1).sum() >= 4)),
        (z.abs() < 1).astype(int).rolling(15).sum() == 15,
        (z.abs() > 1).astype(int).rolling(8).sum() == 8,
        mr > mr_ucl,
    ]
    z_ewma = pd.concat([pd.Series([center]), s]).ewm(alpha=LAMBDA, adjust=False).mean().iloc[1:]
    i = np.arange(1, len(s) + 1)
    width = EWMA_L * sigma * np.sqrt(LAMBDA / (2 - LAMBDA) * (1 - (1 - LAMBDA) ** (2 * i)))
    signals.append((z_ewma - center).abs().to_numpy() > width)
    upper = lower = 0.0
    cusum_signals = 0
    for value in z.tolist():
        upper = max(0.0, upper + value - CUSUM_K)
        lower = max(0.0, lower - value - CUSUM_K)
        cusum_signals += (upper > CUSUM_H) + (lower > CUSUM_H)
    return int(sum(int(np.sum(signal)) for signal in signals) + cusum_signals)


def _stream(values: list[float], limits: spc.ShewhartLimits) -> int:
    imr = spc.IMRStream(limits)
    ewma = spc.EWMAStream(spc.EWMAParameters(limits.center, limits.sigma, LAMBDA, EWMA_L))
    cusum = spc.CUSUMStream(spc.CUSUMParameters(limits.center, limits.sigma, CUSUM_K, CUSUM_H))
    signals = 0
    for value in values:
        for point in (*imr.update(value), *ewma.update(value), *cusum.update(value)):
            if point.violations:
                signals += len(point.violations)
    return signals


def _pandas_stream(values: list[float], center: float, sigma: float) -> int:
    window: deque[float] = deque(maxlen=15)
    z_ewma, upper, lower, signals = center, 0.0, 0.0, 0
    for value in values:
        window.append(value)
        s = pd.Series(window)
        z = (s - center) / sigma
        last = z.iloc[-1]
        signals += int(abs(last) > 3)
        signals += int(len(z) >= 9 and ((z.iloc[-9:] > 0).all() or (z.iloc[-9:] < 0).all()))
        steps = s.diff().iloc[-5:]
        signals += int(len(s) >= 6 and ((steps > 0).all() or (steps < 0).all()))
        signals += int(len(z) >= 15 and (z.abs() < 1).all())
        signals += int(len(z) >= 8 and (z.iloc[-8:].abs() > 1).all())
        z_ewma = LAMBDA * value + (1 - LAMBDA) * z_ewma
        upper = max(0.0, upper + last - CUSUM_K)
        lower = max(0.0, lower - last - CUSUM_K)
        signals += int(upper > CUSUM_H) + int(lower > CUSUM_H)
    return signals


def run_spc_bench(
    values: int = 1_000_000, baseline_stream_samples: int = 5_000, seed: int = 0
) -> SPCBenchResult:
    """Time the batch and streaming paths over ``values`` standard normal values.

    Limits are estimated once from the first 1,000 values (phase I) and frozen for both paths,
    as on the line.  The streaming pandas baseline runs on ``baseline_stream_samples`` values.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 1.0, values)
    limits = spc.imr(x[: min(1000, values)]).limits
    # Warm both paths (imports, caches of d2/d3) on a prefix so that only throughput is timed.
    _batch(x[:1000], limits)
    _pandas_batch(x[:1000], limits.center, limits.sigma)

    start = time.perf_counter()
    batch_signals = _batch(x, limits)
    batch_seconds = time.perf_counter() - start

    start = time.perf_counter()
    _pandas_batch(x, limits.center, limits.sigma)
    baseline_batch_seconds = time.perf_counter() - start

    as_list = x.tolist()
    start = time.perf_counter()
    stream_signals = _stream(as_list, limits)
    stream_seconds = time.perf_counter() - start

    prefix = as_list[: min(baseline_stream_samples, values)]
    start = time.perf_counter()
    _pandas_stream(prefix, limits.center, limits.sigma)
    baseline_stream_seconds = time.perf_counter() - start

    batch_rate = values / batch_seconds
    baseline_batch_rate = values / baseline_batch_seconds
    stream_rate = values / stream_seconds
    baseline_stream_rate = len(prefix) / baseline_stream_seconds
    return SPCBenchResult(
        values=values,
        batch_seconds=batch_seconds,
        batch_values_per_s=batch_rate,
        baseline_batch_values_per_s=baseline_batch_rate,
        batch_ratio=batch_rate / baseline_batch_rate,
        stream_samples=values,
        stream_seconds=stream_seconds,
        stream_samples_per_s=stream_rate,
        baseline_stream_samples=len(prefix),
        baseline_stream_samples_per_s=baseline_stream_rate,
        stream_ratio=stream_rate / baseline_stream_rate,
        batch_signals=batch_signals,
        stream_signals=stream_signals,
    )
