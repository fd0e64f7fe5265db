"""Slow autocorrelated wander, measurement noise and quantisation of thermal and flow tags.

An in-control dryer zone or dosing pump does not read white noise about its set point: its
true value wanders slowly (heat capacity, supply pressure), the sensor adds noise, and the
transmitter reports in steps of its resolution.  A tag that `wander_spec` classes as thermal
or flow reads

``x_k = mu + delta_k + s_k * (w_k + sigma_n * z_k)``, quantised to the resolution ``q``,

with ``w_k = phi * w_{k-1} + sigma_w * sqrt(1 - phi**2) * e_k`` a stationary AR(1) process
(Box, Jenkins & Reinsel, Time Series Analysis, 4th ed., §3.2.4: variance ``sigma_w**2``, lag-j
autocorrelation ``phi**j``), ``phi = exp(-dt / tau)`` for updates every ``dt`` seconds and a
time constant ``tau``, ``z_k``, ``e_k`` independent standard normal.  The total in-control
variance stays the tag's ``sigma**2 = sigma_w**2 + sigma_n**2`` (so Cp stays 2); the lag-1
autocorrelation of ``x`` before quantisation is ``phi * sigma_w**2 / sigma**2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

THERMAL = ("temp", "dew_point")
"""Name parts of thermal tags (dryer zones, rolls, chambers, dew point)."""
FLOW = ("pump_rate", "flow_rate")
"""Name parts of flow tags (slurry pump, spinneret feed)."""


@dataclass(frozen=True)
class WanderSpec:
    """Time constant of the wander [s] and its share of the in-control variance [-]."""

    tau_s: float
    share: float


def wander_spec(name: str) -> WanderSpec | None:
    """Thermal tags wander with tau = 900 s carrying 80 % of their variance, flow tags with
    tau = 120 s carrying 50 %; other tags None (white noise about their mean)."""
    if any(part in name for part in THERMAL):
        return WanderSpec(tau_s=900.0, share=0.8)
    if any(part in name for part in FLOW):
        return WanderSpec(tau_s=120.0, share=0.5)
    return None


def ar1_step(x: float, dt_s: float, tau_s: float, sigma: float, rng: np.random.Generator) -> float:
    """The stationary AR(1) wander ``x`` advanced by ``dt_s`` seconds (the module formula).

    Parameters
    ----------
    x : float
        The wander now, in its unit.
    dt_s, tau_s : float
        Step and time constant of the wander [s]; the step may change from call to call.
    sigma : float
        Stationary standard deviation of the wander, in its unit.
    rng : numpy.random.Generator
        Draws the one standard normal ``e`` of the step.

    Notes
    -----
    :math:`x' = \\phi x + \\sigma \\sqrt{1 - \\phi^2}\\, e` with
    :math:`\\phi = e^{-\\Delta t / \\tau}`: the variance stays :math:`\\sigma^2` whatever
    the steps, and the autocorrelation after a time :math:`t` is :math:`e^{-t / \\tau}`.
    """
    phi = np.exp(-dt_s / tau_s)
    return phi * x + sigma * np.sqrt(1 - phi * phi) * rng.standard_normal()


def resolution(sigma: float) -> float:
    """A transmitter resolution for a tag of in-control ``sigma``: the power of ten at most
    ``sigma / 5`` (0.1 C for a dryer zone of sigma 0.5-5 C)."""
    return float(10.0 ** math.floor(math.log10(sigma / 5)))


class Ar1Wander:
    """The wander, noise and quantisation of one tag (see the module formula).

    Parameters
    ----------
    spec : WanderSpec
        Time constant [s] and variance share [-].
    sigma : float
        The tag's total in-control sigma, in its unit.
    dt_s : float
        Time between two updates of the tag [s].
    rng : numpy.random.Generator
        The tag's generator; `deviation` draws two normals from it per update.
    """

    def __init__(
        self, spec: WanderSpec, sigma: float, dt_s: float, rng: np.random.Generator
    ) -> None:
        self.phi = math.exp(-dt_s / spec.tau_s)
        self.sigma_w = sigma * math.sqrt(spec.share)
        self.sigma_n = sigma * math.sqrt(1.0 - spec.share)
        self.q = resolution(sigma)
        self._digits = max(0, -math.floor(math.log10(self.q)))
        self._innovation = self.sigma_w * math.sqrt(1.0 - self.phi**2)
        self._w = self.sigma_w * float(rng.standard_normal())  # started in its steady state

    def deviation(self, z: float, rng: np.random.Generator) -> float:
        """``w_k + sigma_n * z`` for this update, the wander advanced one step."""
        self._w = self.phi * self._w + self._innovation * float(rng.standard_normal())
        return self._w + self.sigma_n * z

    def quantise(self, value: float) -> float:
        """``value`` in steps of the resolution (rounded to its decimals: 60.3, not
        60.300000000000004)."""
        return round(round(value / self.q) * self.q, self._digits)
