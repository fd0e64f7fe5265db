"""Cross-direction response matrix: how each die actuator spreads over the gauge bins.

A die bolt (or lip heater) opens the lip locally; on a pre-metered die the slurry it lets
through is taken from the neighbouring lanes, so the total flow, and with it the MD mean, does
not change.  The response of actuator ``j`` is therefore a bump centred on its mapped position
with the mean across the web removed.

References
----------
.. [1] S. R. Duncan, "The cross-directional control of web forming processes", PhD thesis,
   Imperial College London, 1989, ch. 3 (spatial response, controllable bandwidth).
.. [2] G. E. Stewart, D. M. Gorinevsky and G. A. Dumont, "Feedback controller design for a
   spatially distributed system: the paper machine problem", *IEEE Trans. Control Systems
   Technology* 11(5), 2003, pp. 612-628.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

Shape = Literal["gaussian", "mexican-hat"]


def bin_centres(n_bins: int, n_zones: int) -> NDArray[np.float64]:
    """Centres of the gauge bins in actuator pitches (actuator ``j`` sits at ``j``).

    Parameters
    ----------
    n_bins, n_zones : int
        Gauge bins and actuator zones across the same web width.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_bins,)``; ``-0.5`` is the left web edge and ``n_zones - 0.5`` the right.
    """
    return (np.arange(n_bins) + 0.5) * (n_zones / n_bins) - 0.5


def response_matrix(
    n_bins: int,
    n_zones: int,
    *,
    width_pitch: float = 1.0,
    misalignment_pitch: float = 0.0,
    gain: float = 1.0,
    shape: Shape = "gaussian",
) -> NDArray[np.float64]:
    """Steady-state response of every gauge bin to a unit move of every actuator.

    Parameters
    ----------
    n_bins : int
        Gauge bins across the web.
    n_zones : int
        Actuator zones across the web.
    width_pitch : float
        Standard deviation of the bump, in actuator pitches.
    misalignment_pitch : float
        Shift of every response centre from its nominal position, in actuator pitches
        (web shrinkage or wander between die and gauge).
    gain : float
        Peak response per unit actuator move (% of local thickness per % of local flow)
        before the web mean is removed.
    shape : {"gaussian", "mexican-hat"}
        Bump shape; ``mexican-hat`` has the negative side lobes of a stiff die lip.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_bins, n_zones)``, every column with zero mean.

    Notes
    -----
    With bin centre :math:`x_i` and actuator centre :math:`c_j = j + \\delta` (pitches),
    :math:`r = (x_i - c_j) / w` and
    :math:`G_{ij} = g\\, e^{-r^2/2}` (gaussian) or :math:`g\\,(1 - r^2)\\, e^{-r^2/2}`
    (mexican hat), then :math:`G_{ij} \\leftarrow G_{ij} - \\bar G_{\\cdot j}`: a pre-metered
    die redistributes flow and cannot change its total [1]_.
    """
    if n_bins < 1 or n_zones < 1 or width_pitch <= 0:
        raise ValueError("n_bins, n_zones and width_pitch must be positive")
    r = (bin_centres(n_bins, n_zones)[:, None] - (np.arange(n_zones) + misalignment_pitch)) / (
        width_pitch
    )
    bump = np.exp(-0.5 * r**2)
    if shape == "mexican-hat":
        bump = (1.0 - r**2) * bump
    g = gain * bump
    return g - g.mean(axis=0, keepdims=True)
