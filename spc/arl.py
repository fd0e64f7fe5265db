"""Average run length (ARL) of Shewhart, EWMA and CUSUM charts, and designs that meet a target ARL.

A Shewhart chart judging independent normal points has a geometric run length, so its ARL is
closed form (:func:`shewhart_arl`, :func:`design_shewhart`); with supplementary run rules the
points are no longer judged one by one and :func:`rules_arl` estimates the ARL by Monte Carlo
simulation with a fixed seed and reports its standard error.

The ARL solves the Fredholm integral equation of the chart's Markov process by the Nystrom
method with Gauss-Legendre nodes (the integral-equation counterpart of the Brook & Evans Markov
chain; with the default 120 nodes the ARLs agree with the published tables to every printed
digit).  The two-sided CUSUM with a head start, whose two sums are positive at once, is the
Brook & Evans chain on the pair of sums (:func:`cusum_arl_two_sided`).  No simulation is
involved.

References
----------
.. [1] D. Brook and D. A. Evans, "An approach to the probability distribution of cusum run
   length", *Biometrika* 59(3), 1972, pp. 539-549.
.. [2] J. M. Lucas and M. S. Saccucci, "Exponentially weighted moving average control schemes:
   properties and enhancements", *Technometrics* 32(1), 1990, pp. 1-12, Table 3.
.. [3] S. V. Crowder, "A simple method for studying run-length distributions of exponentially
   weighted moving average charts", *Technometrics* 29(4), 1987, pp. 401-407.
.. [4] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed., Wiley, 2013,
   Tables 9.3 (CUSUM) and 9.11 (EWMA).
.. [5] J. M. Lucas and R. B. Crosier, "Fast initial response for CUSUM quality-control
   schemes: give your CUSUM a head start", *Technometrics* 24(3), 1982, pp. 199-205.
.. [6] D. C. Montgomery, *Introduction to Statistical Quality Control*, 8th ed., Wiley, 2019,
   §6.2.6 (the OC curve and ARL of the X-bar chart, eq. 6.19) and §6.4 (individuals chart).
.. [7] C. W. Champ and W. H. Woodall, "Exact results for Shewhart control charts with
   supplementary runs rules", *Technometrics* 29(4), 1987, pp. 393-399.
.. [8] L. A. Jones, C. W. Champ and S. E. Rigdon, "The performance of exponentially weighted
   moving average charts with estimated parameters", *Technometrics* 43(2), 2001,
   pp. 156-167; W. A. Jensen, L. A. Jones-Farmer, C. W. Champ and W. H. Woodall, "Effects
   of parameter estimation on control chart properties: a literature review", *J. Quality
   Technology* 38(4), 2006, pp. 349-364.
.. [9] J. D. Cryer and T. P. Ryan, "The estimation of sigma for an X chart: MR/d2 or S/c4?",
   *J. Quality Technology* 22(3), 1990, pp. 187-192.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, sparse, special
from scipy.sparse import linalg as sparse_linalg
from scipy.special import roots_hermitenorm

from spc.errors import SPCInputError
from spc.rules import resolve_rules, rule_signals

DEFAULT_NODES = 120
_MAX_ARL = 1e7


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def _legendre(a: float, b: float, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(nodes)
    return (b - a) / 2.0 * x + (a + b) / 2.0, (b - a) / 2.0 * w


def cusum_arl_one_sided(
    k: float, h: float, shift: float = 0.0, headstart: float = 0.0, nodes: int = DEFAULT_NODES
) -> float:
    r"""ARL of the upper one-sided tabular CUSUM for a mean shift, in samples.

    Parameters
    ----------
    k, h : float
        Reference value and decision interval in sigma units.
    shift : float
        Mean shift :math:`\delta` in sigma units (0 for the in-control ARL).
    headstart : float
        Start value :math:`C_0` in sigma units (FIR).
    nodes : int
        Gauss-Legendre nodes on [0, h].

    Notes
    -----
    Solves (Brook & Evans [1]_ in integral form)

    .. math:: L(u) = 1 + L(0)\,\Phi(k - u - \delta)
              + \int_0^h L(v)\,\phi(v + k - u - \delta)\,dv

    for L at the nodes and at 0, then evaluates L at the headstart.
    """
    v, w = _legendre(0.0, h, nodes)
    points = np.concatenate(([0.0], v))
    # Row i: L(u_i) = 1 + L(0) Phi(k - u_i - d) + sum_j w_j phi(v_j + k - u_i - d) L_j
    kernel = np.empty((nodes + 1, nodes + 1))
    kernel[:, 0] = special.ndtr(k - points - shift)
    kernel[:, 1:] = w[None, :] * _phi(v[None, :] + k - points[:, None] - shift)
    solution = np.linalg.solve(np.eye(nodes + 1) - kernel, np.ones(nodes + 1))
    start_row = np.concatenate(
        ([special.ndtr(k - headstart - shift)], w * _phi(v + k - headstart - shift))
    )
    return float(1.0 + start_row @ solution)


DEFAULT_STATES = 32
"""States per sum of the two-sided CUSUM chain (it is also solved with twice as many)."""


def _pair_chain_arl(k: float, h: float, shift: float, headstart: float, states: int) -> float:
    """ARL of the two-sided CUSUM from the Brook & Evans chain on the pair (C+, C-)."""
    width = 2.0 * h / (2 * states - 1)
    # Sum in state p when T[p-1] < C <= T[p] (state 0: C <= w/2); beyond T[-1] = h it signals.
    thresholds = (np.arange(states) + 0.5) * width

    def transitions(upper: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, ...]:
        # One observation y moves C+ to max(0, C+ + y - k) and C- to max(0, C- - y - k): on
        # the y axis the thresholds of the two sums cut it into 2m + 1 segments, each of
        # which lands in one pair of states (or signals).
        cuts_up = thresholds[None, :] + (k - upper)[:, None]
        cuts_down = (lower - k)[:, None] - thresholds[None, :]
        cuts = np.sort(np.concatenate([cuts_up, cuts_down], axis=1), axis=1)
        edge = np.full((upper.size, 1), np.inf)
        lo = np.concatenate([-edge, cuts], axis=1)
        hi = np.concatenate([cuts, edge], axis=1)
        mid = np.where(np.isinf(lo), hi - 1.0, np.where(np.isinf(hi), lo + 1.0, (lo + hi) / 2))
        to_up = np.searchsorted(thresholds, (mid - k + upper[:, None]).ravel()).reshape(mid.shape)
        to_down = np.searchsorted(thresholds, (lower[:, None] - k - mid).ravel()).reshape(mid.shape)
        probability = special.ndtr(hi - shift) - special.ndtr(lo - shift)
        keep = (to_up < states) & (to_down < states) & (probability > 0.0)
        source = np.broadcast_to(np.arange(upper.size)[:, None], mid.shape)
        return source[keep], (to_up * states + to_down)[keep], probability[keep]

    centers = np.arange(states) * width
    source, target, probability = transitions(np.repeat(centers, states), np.tile(centers, states))
    size = states * states
    transient = sparse.csc_matrix((probability, (source, target)), shape=(size, size))
    arl = sparse_linalg.spsolve(sparse.identity(size, format="csc") - transient, np.ones(size))
    # The head start need not be a state's midpoint: one exact first step from it.
    _, first, step = transitions(np.array([headstart]), np.array([headstart]))
    return float(1.0 + step @ arl[first])


def cusum_arl_two_sided(
    k: float, h: float, shift: float = 0.0, headstart: float = 0.0, states: int = DEFAULT_STATES
) -> float:
    r"""ARL of the two-sided tabular CUSUM with both sums started at ``headstart``, in samples.

    Parameters
    ----------
    k, h : float
        Reference value and decision interval in sigma units.
    shift : float
        Mean shift :math:`\delta` in sigma units.
    headstart : float
        Start value of both sums (fast initial response), in sigma units, in [0, h).
    states : int
        States per sum of the coarser chain.

    Notes
    -----
    The pair :math:`(C^+_i, C^-_i)` is a Markov chain (Brook & Evans [1]_), discretised in
    ``states`` intervals per sum; since one observation moves both sums, each state has at
    most 2m + 1 successors.  With m and 2m states the chain's error falls as :math:`1/m^2`,
    so one Richardson step :math:`L_{2m} + (L_{2m} - L_m)/3` removes it: for k = 0.5 it gives
    148.697 (h = 4, head start 2) and 430.40 (h = 5, head start 2.5), where Lucas & Crosier
    [5]_ print 148.7 and 430.4 and R's ``spc::xcusum.arl`` gives 148.6956 and 430.3908.  With
    a head start the two sums are both positive at once, which the combination
    :math:`1/L = 1/L^+ + 1/L^-` of :func:`cusum_arl` for a zero start does not allow (it
    would give 158.2 and 447.9).
    """
    if not 0.0 <= headstart < h:
        raise SPCInputError(f"The head start must be in [0, h), got {headstart}.")
    coarse = _pair_chain_arl(k, h, shift, headstart, states)
    fine = _pair_chain_arl(k, h, shift, headstart, 2 * states)
    return fine + (fine - coarse) / 3.0


def cusum_arl(
    k: float, h: float, shift: float = 0.0, headstart: float = 0.0, nodes: int = DEFAULT_NODES
) -> float:
    r"""ARL of the two-sided tabular CUSUM (upper and lower sums with the same k, h), in samples.

    From a zero start the one-sided ARLs combine as :math:`1/ARL = 1/ARL^+ + 1/ARL^-`
    (Montgomery [4]_ eq. 9.16, after Siegmund), which is how Montgomery's Table 9.3 is built
    and what R's ``spc::xcusum.arl(sided = "two")`` gives (167.6838 for k = 0.5, h = 4).  With
    a head start both sums start positive and the combination no longer holds: the ARL is that
    of the chain on the pair of sums (:func:`cusum_arl_two_sided`).
    """
    if headstart > 0.0:
        return cusum_arl_two_sided(k, h, shift, headstart)
    upper = cusum_arl_one_sided(k, h, shift, 0.0, nodes)
    lower = cusum_arl_one_sided(k, h, -shift, 0.0, nodes)
    return 1.0 / (1.0 / upper + 1.0 / lower)


def ewma_arl(
    lam: float, L: float, shift: float = 0.0, start: float = 0.0, nodes: int = DEFAULT_NODES
) -> float:
    r"""ARL of the two-sided EWMA chart with asymptotic limits, in samples.

    Parameters
    ----------
    lam : float
        Smoothing constant :math:`\lambda`.
    L : float
        Limit width in standard deviations of the asymptotic EWMA statistic.
    shift : float
        Mean shift in sigma units.
    start : float
        Start value :math:`z_0` in sigma units from the target.
    nodes : int
        Gauss-Legendre nodes on [-H, H].

    Notes
    -----
    With :math:`H = L\sqrt{\lambda/(2-\lambda)}` (Crowder [3]_; Lucas & Saccucci [2]_):

    .. math:: L(u) = 1 + \frac{1}{\lambda}\int_{-H}^{H}
              L(v)\,\phi\!\left(\frac{v - (1-\lambda)u}{\lambda} - \delta\right) dv
    """
    if not 0.0 < lam <= 1.0:
        raise SPCInputError(f"lambda must be in (0, 1], got {lam}.")
    bound = L * np.sqrt(lam / (2.0 - lam))
    v, w = _legendre(-bound, bound, nodes)

    def row(u: np.ndarray) -> np.ndarray:
        return w[None, :] / lam * _phi((v[None, :] - (1.0 - lam) * u[:, None]) / lam - shift)

    solution = np.linalg.solve(np.eye(nodes) - row(v), np.ones(nodes))
    return float(1.0 + row(np.array([start]))[0] @ solution)


@dataclass(frozen=True)
class ARLDesign:
    """A chart design that meets a target in-control ARL, with its out-of-control ARLs.

    Attributes
    ----------
    chart : str
        ``shewhart``, ``ewma`` or ``cusum``.
    parameter : float
        The fixed design constant: subgroup size n (Shewhart), lambda (EWMA) or k (CUSUM).
    limit : float
        The solved width: L (Shewhart, EWMA) or h (CUSUM), in sigma units.
    arl0 : float
        In-control ARL of the design (equal to the target within the solver tolerance).
    shifts : tuple of float
        Mean shifts, in sigma units.
    arl : tuple of float
        ARL at each shift, in samples.
    """

    chart: str
    parameter: float
    limit: float
    arl0: float
    shifts: tuple[float, ...]
    arl: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "chart": self.chart,
            "parameter": self.parameter,
            "limit": self.limit,
            "arl0": self.arl0,
            "shifts": list(self.shifts),
            "arl": list(self.arl),
        }


DEFAULT_SHIFTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)


def shewhart_arl(L: float, shift: float = 0.0, n: int = 1) -> float:
    r"""ARL of a two-sided Shewhart chart with limits at :math:`\pm L` sigma, in points.

    Parameters
    ----------
    L : float
        Limit width in standard deviations of the plotted point (3: Shewhart's limits).
    shift : float
        Mean shift :math:`\delta` of the individual values, in their standard deviations.
    n : int
        Subgroup size of an X-bar chart (1: an individuals chart).

    Notes
    -----
    A point of an X-bar chart of subgroups of n independent normal values is beyond the
    limits with probability (Montgomery [6]_ eq. 6.19)

    .. math:: p = \Phi(-L - \delta\sqrt n) + 1 - \Phi(L - \delta\sqrt n),

    and the run length is geometric, so :math:`ARL = 1/p`; in control
    :math:`ARL_0 = 1 / (2\Phi(-L))`, 370.4 at L = 3.
    """
    if not L > 0.0 or n < 1:
        raise SPCInputError(f"L must be positive and n at least 1, got L={L}, n={n}.")
    moved = shift * np.sqrt(n)
    p = special.ndtr(-L - moved) + special.ndtr(-L + moved)
    return float(1.0 / p)


def design_shewhart(
    arl0: float = 370.4, n: int = 1, shifts: Sequence[float] = DEFAULT_SHIFTS
) -> ARLDesign:
    r"""The width L of a Shewhart chart whose in-control ARL is ``arl0`` points.

    Inverts :math:`ARL_0 = 1 / (2\Phi(-L))` exactly: :math:`L = -\Phi^{-1}(1 / (2 ARL_0))`.
    The ARL at each of ``shifts`` (sigma of the individual values) is that of subgroups of
    ``n`` (:func:`shewhart_arl`).
    """
    if not 1.0 < arl0 <= _MAX_ARL:
        raise SPCInputError(f"The in-control ARL must be between 1 and {_MAX_ARL:g}, got {arl0}.")
    width = float(-special.ndtri(0.5 / arl0))
    return ARLDesign(
        "shewhart",
        float(n),
        width,
        shewhart_arl(width, 0.0, n),
        tuple(float(s) for s in shifts),
        tuple(shewhart_arl(width, s, n) for s in shifts),
    )


def sigma_estimate_dof(points: int, n: int = 1, dispersion: str = "mr") -> float:
    r"""Degrees of freedom :math:`\nu` of a phase I sigma estimate from ``points`` points.

    Parameters
    ----------
    points : int
        Phase I points m: individuals (``mr``) or subgroups of ``n`` (``s``, ``r``).
    n : int
        Subgroup size (``s``, ``r``).
    dispersion : str
        ``mr`` (MR-bar / d2 of individuals), ``s`` (S-bar / c4) or ``r`` (R-bar / d2).

    Notes
    -----
    :math:`\hat\sigma^2 / \sigma^2` is taken as :math:`\chi^2_\nu / \nu`, so
    :math:`\nu = 1 / (2 \operatorname{Var}(\hat\sigma / \sigma))`:
    :math:`\nu = m c_4^2 / (2(1 - c_4^2))` for S-bar, :math:`m d_2^2 / (2 d_3^2)` for R-bar.
    Adjacent moving ranges share a point: the two differences have correlation -1/2, so
    :math:`\operatorname{Cov}(MR_i, MR_{i+1}) = \sigma^2 (4/\pi)(\sqrt3/2 + \pi/12 - 1)
    = 0.1628\sigma^2` and
    :math:`\operatorname{Var}(\overline{MR}) = \sigma^2 [d_3^2 (m-1) + 2(m-2)\,0.1628]
    / (m-1)^2`, which gives :math:`\nu \approx 0.60(m-1)` (Cryer & Ryan [9]_: 0.62(m-1)).
    """
    from spc.constants import c4, d2, d3

    if dispersion == "mr":
        if points < 3:
            raise SPCInputError(f"An MR-bar estimate needs 3 points at least, got {points}.")
        adjacent = 4.0 / np.pi * (np.sqrt(3.0) / 2.0 + np.pi / 12.0 - 1.0)
        variance = (d3(2) ** 2 * (points - 1) + 2 * (points - 2) * adjacent) / (points - 1) ** 2
        return float(d2(2) ** 2 / (2.0 * variance))
    if n < 2:
        raise SPCInputError(f"Subgroups of at least 2 are needed, got {n}.")
    if dispersion == "s":
        return float(points * c4(n) ** 2 / (2.0 * (1.0 - c4(n) ** 2)))
    if dispersion == "r":
        return float(points * d2(n) ** 2 / (2.0 * d3(n) ** 2))
    raise SPCInputError(f"dispersion must be mr, s or r, got {dispersion!r}.")


def estimated_limits_rate(
    rate: Callable[[float, float], float],
    points: int,
    dof: float,
    sigma_nodes: int = 24,
    mean_nodes: int = 3,
    bias: float = 1.0,
) -> float:
    r"""Average of a chart's signal rate over the phase I estimates its limits are set from.

    Parameters
    ----------
    rate : callable
        ``rate(u, e)``: signals per point of the chart whose sigma is estimated as ``u`` times
        the true one and whose center is off by ``e`` sigma of a point (symmetric in e).
    points : int
        Phase I points m: the center's error is :math:`N(0, 1/m)` in sigma of a point.
    dof : float
        Degrees of freedom of the sigma estimate (:func:`sigma_estimate_dof`).
    sigma_nodes, mean_nodes : int
        Quadrature nodes over the sigma estimate and over one side of the center's error.
    bias : float
        Mean of u: below 1 for a phase I that drops the points beyond its trial limits and
        re-estimates (the drops are the largest deviations and moving ranges), 1 otherwise.

    Notes
    -----
    A chart whose limits come from m phase I points is, in control, a chart with sigma
    :math:`u\sigma` and center :math:`\mu + e\sigma`; averaged over the estimates its
    false-alarm rate is (Jones, Champ & Rigdon [8]_)

    .. math:: \bar p = E_{u, e}[\,1 / ARL_0(u, e)\,], \qquad
              (u / b)^2 \sim \chi^2_\nu/\nu, \; e \sim N(0, 1/m),

    larger than :math:`1/ARL_0(1, 0)` because a rate grows faster as u falls than it shrinks
    as u grows (at L = 4.35 and m = 100 individuals about 4 times).  The expectation is
    taken by Gauss-Hermite quadrature over e and over the normal deviate of the
    Wilson-Hilferty approximation of :math:`\\chi^2_\\nu`, whose tail matters.
    """
    if points < 2 or not dof > 0:
        raise SPCInputError(f"points must be at least 2 and dof positive, got {points}, {dof}.")
    z, wz = roots_hermitenorm(sigma_nodes)
    # Wilson-Hilferty: chi2_nu / nu = (1 - 2/(9 nu) + z sqrt(2/(9 nu)))^3 with z standard normal
    base = 1.0 - 2.0 / (9.0 * dof) + z * np.sqrt(2.0 / (9.0 * dof))
    keep = base > 0.0
    u = bias * np.sqrt(base[keep] ** 3)
    wu = wz[keep] / wz.sum()
    # the rate is symmetric in e: the nodes of one side, with their mirror's weight
    t, wt = roots_hermitenorm(2 * mean_nodes)
    e = t[t > 0] / np.sqrt(points)
    wt = wt[t > 0] / wt[t > 0].sum()
    pairs = [
        (ui, a, ei, b) for ui, a in zip(u, wu, strict=True) for ei, b in zip(e, wt, strict=True)
    ]
    return float(sum(a * b * rate(float(ui), float(ei)) for ui, a, ei, b in pairs))


@dataclass(frozen=True)
class SimulatedARL:
    """An ARL estimated by simulation.

    Attributes
    ----------
    arl : float
        Mean run length over the simulated runs, in points.
    standard_error : float
        Standard error of ``arl`` (sample standard deviation of the run lengths / sqrt(runs)).
    runs : int
        Simulated runs.
    seed : int
        Seed of the generator (the estimate is reproducible).
    """

    arl: float
    standard_error: float
    runs: int
    seed: int


_LIMIT_RULES = frozenset({"nelson1", "we1"})
_RULE_MEMORY = 15
"""Points a rule's window spans at most (Nelson's test 7): the state a run carries forward."""


def rules_arl(
    rules: str | Sequence[str],
    L: float = 3.0,
    shift: float = 0.0,
    n: int = 1,
    runs: int = 20_000,
    seed: int = 20_240_601,
    block: int = 512,
) -> SimulatedARL:
    r"""ARL of a Shewhart chart with run rules, estimated by Monte Carlo simulation, in points.

    Parameters
    ----------
    rules : str or sequence of str
        Rule set or codes of `spc.rules`; each signals a point, the chart signals at the first.
        The beyond-limits rules (``nelson1``, ``we1``) signal beyond :math:`\pm L`; the zone
        rules keep their 1- and 2-sigma zones.
    L : float
        Limit width in sigma of the plotted point.
    shift : float
        Mean shift of the individual values in their standard deviations (a point moves by
        :math:`\delta\sqrt n`).
    n : int
        Subgroup size of an X-bar chart.
    runs : int
        Independent runs from a fresh start (zero-state ARL).
    seed : int
        Seed of `numpy.random.default_rng`.
    block : int
        Points simulated per run and round; runs still going continue with the last
        `_RULE_MEMORY` points, so a window that spans rounds is judged whole.

    Notes
    -----
    The standard error is :math:`s_{RL}/\sqrt{runs}`; the run length of a chart with rules
    is close to geometric, so :math:`s_{RL} \approx ARL` and 20 000 runs give about 0.7 %.
    Champ & Woodall [7]_ compute the same ARLs exactly by a Markov chain: 91.75 in control for
    Western Electric rules 1-4 with 3-sigma limits.
    """
    codes = resolve_rules(rules)
    if not codes:
        raise SPCInputError("A chart with no rules never signals: its ARL is infinite.")
    zone_codes = [c for c in codes if c not in _LIMIT_RULES]
    limit = any(c in _LIMIT_RULES for c in codes)
    moved = shift * np.sqrt(n)
    rng = np.random.default_rng(seed)
    lengths = np.zeros(runs, dtype=np.int64)
    active = np.arange(runs)
    history = np.empty((runs, 0))
    pad = np.full((runs, _RULE_MEMORY), np.nan)
    done = 0
    while active.size:
        fresh = rng.standard_normal((active.size, block)) + moved
        rows = np.concatenate([history[active], fresh], axis=1)
        kept = rows.shape[1] - block
        # a row of NaN as long as the widest window keeps runs apart in one flat series
        flat = np.concatenate([rows, pad[: active.size]], axis=1)
        signal = np.zeros(flat.shape, dtype=bool)
        if zone_codes:
            for mask in rule_signals(flat.ravel(), 0.0, 1.0, zone_codes).values():
                signal |= mask.reshape(flat.shape)
        if limit:
            signal |= np.abs(flat) > L
        signal = signal[:, kept : kept + block]
        hit = signal.any(axis=1)
        first = np.argmax(signal, axis=1)
        lengths[active[hit]] = done + first[hit] + 1
        history = np.zeros((runs, _RULE_MEMORY))
        history[active] = rows[:, -_RULE_MEMORY:]
        active = active[~hit]
        done += block
    return SimulatedARL(
        float(lengths.mean()), float(lengths.std(ddof=1) / np.sqrt(runs)), runs, seed
    )


def _solve_width(arl_of: Callable[[float], float], target: float, low: float) -> float:
    if not 1.0 < target <= _MAX_ARL:
        raise SPCInputError(f"The in-control ARL must be between 1 and {_MAX_ARL:g}, got {target}.")

    def gap(width: float) -> float:
        return float(np.log(arl_of(width)) - np.log(target))

    # The ARL grows steeply with the width; widen the bracket in steps rather than guessing a
    # fixed upper end that would overflow for small k or large lambda.
    high = 2.0 * low
    while gap(high) < 0:
        low, high = high, high * 1.5
    return float(optimize.brentq(gap, low, high, xtol=1e-10))


def design_ewma(
    lam: float, arl0: float = 370.4, shifts: Sequence[float] = DEFAULT_SHIFTS
) -> ARLDesign:
    """Find the EWMA width L giving in-control ARL ``arl0`` for smoothing ``lam``.

    Returns the design with the ARL at each of ``shifts`` (sigma units); see :func:`ewma_arl`.
    """
    width = _solve_width(lambda L: ewma_arl(lam, L), arl0, 0.25)
    return ARLDesign(
        "ewma",
        float(lam),
        width,
        ewma_arl(lam, width),
        tuple(float(s) for s in shifts),
        tuple(ewma_arl(lam, width, s) for s in shifts),
    )


def design_cusum(
    k: float, arl0: float = 370.4, shifts: Sequence[float] = DEFAULT_SHIFTS, headstart: float = 0.0
) -> ARLDesign:
    """Find the two-sided CUSUM decision interval h giving in-control ARL ``arl0`` for ``k``.

    ``headstart`` is in sigma units and is kept below h/2 while the width is searched; with a
    head start the ARLs are those of the chain on the pair of sums (:func:`cusum_arl`).
    """
    width = _solve_width(lambda h: cusum_arl(k, h, 0.0, min(headstart, h / 2)), arl0, 0.25)
    start = min(headstart, width / 2)
    return ARLDesign(
        "cusum",
        float(k),
        width,
        cusum_arl(k, width, 0.0, start),
        tuple(float(s) for s in shifts),
        tuple(cusum_arl(k, width, s, start) for s in shifts),
    )
