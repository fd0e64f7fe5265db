"""The seeded process model of a simulated line: what each tag reads at each tick.

Each scalar tag is an in-control normal process around its nominal value,
``x_k = mu + delta(t_k) + s(t_k) * sigma * z_k`` with ``z_k`` standard normal from a
generator seeded by (seed, line, tag), so a run is reproducible tick for tick.  Faults of the
`Scenario` change the mean ``delta`` (step, drift), the spread ``s`` (variance,
agglomeration), freeze the value (stuck) or the status (bad, uncertain).  Thermal and flow
tags read AR(1) wander plus measurement noise instead of ``sigma * z_k``, quantised
(`plantqc.sim.wander`).  A profile tag is a cross-direction scan with a parabolic-power edge
bead.  Lot and roll ids change on a fixed
rhythm.  Nothing here touches a clock or a socket: the server drives the ticks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from asyncua import ua

from plantqc.config import Line, Tag
from plantqc.sim.casting_tags import DRIVEN_TAGS, CastingTags
from plantqc.sim.scenario import Fault, Scenario
from plantqc.sim.wander import Ar1Wander, wander_spec

PROFILE_POINTS = 24  # measurement positions across the web
EDGE_BEAD_SIGMA = 3.0  # how much thicker the web edges are, in sigma
STATUS_BAD = int(ua.StatusCodes.BadSensorFailure)
STATUS_UNCERTAIN = int(ua.StatusCodes.UncertainLastUsableValue)
SAMPLE_COUNTER = "SampleCounter"

# Nominal and sigma of process variables when a tag has no spec limits to derive them from.
_DEFAULTS: dict[str, tuple[float, float]] = {
    "dew_point_c": (-50.0, 1.5),
}


@dataclass(frozen=True)
class SignalSpec:
    """Nominal value, within-process sigma and engineering range of one tag, in its unit."""

    nominal: float
    sigma: float
    low: float
    high: float


def signal_spec(tag: Tag) -> SignalSpec:
    """Nominal and sigma from the tag's spec, so the simulated process has Cp = 2.

    With both limits, ``sigma = (USL - LSL) / 12`` (Cp = (USL - LSL) / (6 sigma) = 2,
    Montgomery, Introduction to SQC, 8th ed., §8.3); the nominal is the target or the
    midpoint.  The engineering range (EURange, OPC UA Part 8 §5.3.2) is nominal +/- 20 sigma.
    """
    spec = tag.spec
    if tag.name in _DEFAULTS:
        nominal, sigma = _DEFAULTS[tag.name]
    elif spec is not None and spec.lsl is not None and spec.usl is not None:
        nominal = spec.target if spec.target is not None else (spec.lsl + spec.usl) / 2
        sigma = (spec.usl - spec.lsl) / 12
    elif spec is not None and spec.target is not None:
        nominal, sigma = spec.target, max(abs(spec.target) * 0.01, 1e-3)
    else:
        nominal, sigma = 0.0, 1.0
    return SignalSpec(nominal, sigma, nominal - 20 * sigma, nominal + 20 * sigma)


@dataclass(frozen=True)
class TagUpdate:
    """A value a tag takes at one tick: float, profile (list of float) or id string."""

    tag: str
    value: float | list[float] | str
    status: int = 0


def _rng(seed: int, line: str, tag: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{line}.{tag}".encode())])


class _TagModel:
    def __init__(
        self, line: str, tag: Tag, faults: list[Fault], seed: int, every: int, tick_s: float
    ) -> None:
        self.tag = tag
        self.spec = signal_spec(tag)
        self.faults = [f for f in faults if f.applies_to(line, tag.name)]
        self.rng = _rng(seed, line, tag.name)
        self.every = every
        self.held: float | list[float] | None = None
        # thermal and flow tags wander slowly and read quantised (plantqc.sim.wander)
        kind = wander_spec(tag.name) if tag.kind == "scalar" else None
        self.wander = (
            None if kind is None else Ar1Wander(kind, self.spec.sigma, every * tick_s, self.rng)
        )

    def mean_and_scale(self, t_s: float) -> tuple[float, float]:
        delta, scale = 0.0, 1.0
        for fault in self.faults:
            if not fault.active(t_s):
                continue
            if fault.kind == "step":
                delta += fault.magnitude * self.spec.sigma
            elif fault.kind == "drift":
                delta += fault.magnitude * self.spec.sigma * (t_s - fault.start_s) / 60.0
            elif fault.kind in ("variance", "agglomeration"):
                scale *= fault.magnitude
        return delta, scale

    def status(self, t_s: float) -> int:
        kinds = {f.kind for f in self.faults if f.active(t_s)}
        if "bad" in kinds:
            return STATUS_BAD
        return STATUS_UNCERTAIN if "uncertain" in kinds else 0

    def value(self, t_s: float) -> float | list[float]:
        # draw every tick even while stuck, so a fault never shifts the values after it
        delta, scale = self.mean_and_scale(t_s)
        spec = self.spec
        if self.tag.kind == "profile":
            position = np.linspace(-1.0, 1.0, PROFILE_POINTS)
            bead = EDGE_BEAD_SIGMA * spec.sigma * position**8
            noise = self.rng.standard_normal(PROFILE_POINTS)
            fresh: float | list[float] = (
                spec.nominal + delta + bead + scale * spec.sigma * noise
            ).tolist()
        elif self.wander is None:
            fresh = spec.nominal + delta + scale * spec.sigma * float(self.rng.standard_normal())
        else:
            z = float(self.rng.standard_normal())
            deviation = self.wander.deviation(z, self.rng)
            fresh = self.wander.quantise(spec.nominal + delta + scale * deviation)
        stuck = any(f.kind == "stuck" and f.active(t_s) for f in self.faults)
        if not stuck or self.held is None:
            self.held = fresh
        return self.held


class LineModel:
    """Every tag of one line, stepped tick by tick; tick ``k`` is at ``t = k * tick_s``.

    A tag is updated every ``ceil(sampling_interval_ms / tick)`` ticks; the line's
    ``SampleCounter`` counts ticks from 1, so a client can prove it missed none.
    """

    def __init__(self, line: Line, scenario: Scenario, *, seed: int = 0, tick_s: float) -> None:
        if tick_s <= 0:
            raise ValueError(f"tick must be a positive number of seconds, got {tick_s}")
        self.line = line
        self.scenario = scenario
        self.tick_s = tick_s
        self.k = 0
        faults = list(scenario.faults)
        self._tags = [
            _TagModel(
                line.name,
                tag,
                faults,
                seed,
                max(1, round(tag.sampling_interval_ms / 1000 / tick_s)),
                tick_s,
            )
            for tag in line.tags
            # a tag that names the counter node reads the counter, not a modelled value
            if not tag.node_id.endswith(f"{line.name}.{SAMPLE_COUNTER}")
        ]
        # a scenario's casting section puts the physical line behind the casting tags
        self.casting: CastingTags | None = None
        if scenario.casting is not None and line.kind == "casting":
            on_gauge = [f for f in faults if f.applies_to(line.name, "dry_thickness_um")]
            self.casting = CastingTags(
                line, scenario.casting, on_gauge, seed, scenario.roll_length_s
            )

    def lot_and_roll(self, t_s: float) -> tuple[str, str]:
        """Lot and roll codes at ``t_s``: a new roll every roll length, a lot every few rolls."""
        roll_index = int(t_s // self.scenario.roll_length_s)
        lot, roll = divmod(roll_index, self.scenario.rolls_per_lot)
        return f"LOT-{lot + 1:04d}", f"R{roll + 1:02d}"

    def step(self) -> list[TagUpdate]:
        """The updates due at the current tick (the counter always, each tag on its rhythm)."""
        t_s = self.k * self.tick_s
        lot, roll = self.lot_and_roll(t_s)
        updates = [TagUpdate(SAMPLE_COUNTER, float(self.k + 1))]
        driven = self.casting.advance(t_s, self.tick_s) if self.casting is not None else None
        for model in self._tags:
            name = model.tag.name
            if driven is not None and name in DRIVEN_TAGS:
                # the gauge reports each traverse as it ends; the rest on the tag's rhythm
                if name in driven and (name.startswith("dry_") or not self.k % model.every):
                    value, status = driven[name]
                    updates.append(TagUpdate(name, value, status))
                continue
            if self.k % model.every:
                continue
            kind = model.tag.kind
            if kind == "lot_id":
                updates.append(TagUpdate(model.tag.name, lot))
            elif kind == "roll_id":
                updates.append(TagUpdate(model.tag.name, roll))
            else:
                updates.append(TagUpdate(model.tag.name, model.value(t_s), model.status(t_s)))
        self.k += 1
        return updates
