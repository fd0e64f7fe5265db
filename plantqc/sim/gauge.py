"""The web between a line's source (die lip, calender nip) and its scanning gauge.

A web line lays down (or reshapes) the film at one place and measures it ``L`` metres further
on, so the gauge reads the source as it was when the web now under it passed the source: a
dead time ``L / U`` at a constant speed ``U``, and, when the speed changes, whatever time the
web took to cover those ``L`` metres.  `WebHistory` keeps, one row per model step, the time,
the web length that has passed the source and what the model says the source laid down, and
answers when the web now at the gauge left the source.  The gauge itself traverses the web,
back and forth, one traverse every ``scan_s`` seconds, and reads bin ``i`` of ``n`` at its own
time in the traverse (`Traverse`).  `GaugedLine` is what the line models share: step the
physics, and read a traverse whenever one is complete.

Units: time s, web length and distance m, speed m/min.

References
----------
.. [1] S. R. Duncan, "The cross-directional control of web forming processes", PhD thesis,
   Imperial College London, 1989 (scanning gauges: each bin read at its own time in a
   traverse, the dead time of the web between actuator and gauge).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# a model step lands on the end of a traverse up to float rounding of the summed steps
_TIME_TOL_S = 1e-9


@dataclass(frozen=True)
class Scan:
    """One traverse of the scanning gauge.

    Attributes
    ----------
    t_s : float
        Time at the end of the traverse, s.
    profile_um : numpy.ndarray
        Dry thickness of each bin, um, as read (bin ``i`` at its own time in the traverse).
    md_mean_um : float
        Mean of the traverse, um: the MD measurement.
    sensor_ok : bool
        False while the gauge reports a fault (the values are then not to be used).
    """

    t_s: float
    profile_um: NDArray[np.float64]
    md_mean_um: float
    sensor_ok: bool = True


class WebHistory:
    """What passed the source, step by step, and when the web at the gauge passed it.

    Parameters
    ----------
    source_to_gauge_m : float
        Web path from the source (die lip, nip) to the gauge, m.
    channels : dict of str to tuple of int
        Name and shape of each quantity recorded per step (``()`` for a scalar).

    Notes
    -----
    The web length through the source is integrated step by step at the speed of the step,
    :math:`s_i = s_{i-1} + U_i (t_i - t_{i-1}) / 60`, so a speed change moves every later
    strip of web at the new speed.  The arrays grow by doubling.
    """

    def __init__(self, source_to_gauge_m: float, channels: dict[str, tuple[int, ...]]) -> None:
        self.source_to_gauge_m = source_to_gauge_m
        self._cap = 4096
        self._t = np.zeros(self._cap)
        self._s = np.zeros(self._cap)  # web length that has passed the source, m
        self._values = {name: np.zeros((self._cap, *shape)) for name, shape in channels.items()}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def t_s(self) -> NDArray[np.float64]:
        """Time of each recorded step, s."""
        return self._t[: self._n]

    @property
    def length_m(self) -> float:
        """Web length that has passed the source by the last recorded step, m."""
        return float(self._s[self._n - 1])

    def values(self, name: str) -> NDArray[np.float64]:
        """The recorded channel ``name``, one row per step."""
        return self._values[name][: self._n]

    def record(self, t_s: float, speed_m_min: float, **values: NDArray | float) -> None:
        """Append the step that ends at ``t_s``, run at ``speed_m_min``, with one value per
        channel (each copied)."""
        if self._n == self._cap:
            self._cap *= 2
            self._t = np.resize(self._t, self._cap)
            self._s = np.resize(self._s, self._cap)
            for name, a in self._values.items():
                self._values[name] = np.resize(a, (self._cap, *a.shape[1:]))
        i = self._n
        self._t[i] = t_s
        self._s[i] = 0.0 if i == 0 else self._s[i - 1] + speed_m_min / 60.0 * (t_s - self._t[i - 1])
        for name, value in values.items():
            self._values[name][i] = value
        self._n += 1

    def left_source_s(self, t_s: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Time at which the web under the gauge at ``t_s`` passed the source, s.

        Notes
        -----
        :math:`t' = s^{-1}(s(t) - L)`, with the web length :math:`s(t)` linear between the
        recorded steps (``t_s`` within the recorded history).
        """
        n = self._n
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        s_gauge = np.interp(t, self._t[:n], self._s[:n]) - self.source_to_gauge_m
        return np.interp(s_gauge, self._s[:n], self._t[:n])


class Traverse:
    """Timing of a scanning gauge that crosses the web back and forth.

    Parameters
    ----------
    n_bins : int
        Bins across the web.
    scan_s : float
        Time of one traverse, s.
    """

    def __init__(self, n_bins: int, scan_s: float) -> None:
        self.n_bins = n_bins
        self.scan_s = scan_s
        self.start_s = 0.0
        self.direction = 1  # +1: bin 0 first, -1: the last bin first

    def complete(self, t_s: float) -> bool:
        """Whether the traverse under way has reached the far edge of the web by ``t_s``."""
        return t_s >= self.start_s + self.scan_s - _TIME_TOL_S

    def bin_times_s(self) -> NDArray[np.float64]:
        """Time at which the traverse under way reads each bin, s (bin ``i`` at its centre,
        :math:`t_0 + (i + 1/2) T / n` going out, in reverse order coming back)."""
        frac = (np.arange(self.n_bins) + 0.5) / self.n_bins
        if self.direction < 0:
            frac = frac[::-1]
        return self.start_s + frac * self.scan_s

    def turn(self, t_s: float) -> None:
        """End the traverse at ``t_s``; the next starts there, the other way across."""
        self.start_s = t_s
        self.direction = -self.direction


class GaugedLine(ABC):
    """A line model stepped in time, with a scanning gauge downstream of its source.

    Parameters
    ----------
    source_to_gauge_m : float
        Web path from the source to the gauge, m.
    speed_m_min : float
        Initial line speed, m/min.
    n_bins, scan_s : int, float
        Gauge bins across the web and time of one traverse, s.
    step_s : float
        Model integration step, s.
    channels : dict of str to tuple of int
        What the model records of the source per step (`WebHistory`).

    Notes
    -----
    A subclass steps its physics in `_step` (ending with a `WebHistory.record`, and the first
    record made in its constructor) and reads the gauge in `_read_scan` (from
    ``self._traverse.bin_times_s()``, ending with ``self._traverse.turn``).
    """

    def __init__(
        self,
        *,
        source_to_gauge_m: float,
        speed_m_min: float,
        n_bins: int,
        scan_s: float,
        step_s: float,
        channels: dict[str, tuple[int, ...]],
    ) -> None:
        self.t_s = 0.0
        self.speed = speed_m_min
        self._step_s = step_s
        self._web = WebHistory(source_to_gauge_m, channels)
        self._traverse = Traverse(n_bins, scan_s)

    def set_speed(self, m_min: float) -> None:
        """Write the line speed (taken at once: the drive is fast next to the dead time)."""
        if m_min <= 0:
            # the web history maps time to web length and back: it must grow
            raise ValueError("the model runs only with the web moving (speed > 0)")
        self.speed = float(m_min)

    def deadtime_s(self) -> float:
        """Transport time from the source to the gauge at the current speed, s: ``L / U``."""
        return self._web.source_to_gauge_m / (self.speed / 60.0)

    def advance(self, seconds: float) -> list[Scan]:
        """Step the model ``seconds`` forward; return the gauge traverses completed meanwhile."""
        scans: list[Scan] = []
        end = self.t_s + seconds
        while self.t_s < end - _TIME_TOL_S:
            self._step(min(self._step_s, end - self.t_s))
            if self._traverse.complete(self.t_s):
                scans.append(self._read_scan())
        return scans

    @abstractmethod
    def _step(self, dt: float) -> None:
        """Advance the physics by ``dt`` seconds and record the step."""

    @abstractmethod
    def _read_scan(self) -> Scan:
        """Read the traverse just completed and turn the gauge."""
