"""Input checks shared by every chart: each failure raises one sentence a user can act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spc.errors import SPCInputError


def as_float_array(values: Any, name: str = "values") -> np.ndarray:
    """Return ``values`` as a 1-D float array with no NaN, or raise naming the first bad element.

    Parameters
    ----------
    values : array-like
        Measurements in any unit.
    name : str
        What the values are, used in the error sentence.
    """
    raw = np.asarray(values)
    if raw.dtype.kind in "fiub":
        array = raw.astype(float, copy=False).ravel()
        if np.isfinite(array).all():
            return array
    # pandas only for what is not plain numbers: the streaming charts never import it
    import pandas as pd

    series = pd.Series(raw.ravel()) if not isinstance(values, pd.Series) else values
    numeric = pd.to_numeric(series, errors="coerce")
    bad = numeric.isna() & series.notna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        raise SPCInputError(
            f"{name} has a non-numeric value {series.iloc[position]!r} at position {position + 1}."
        )
    array = numeric.to_numpy(dtype=float)
    if np.isnan(array).any():
        position = int(np.flatnonzero(np.isnan(array))[0])
        raise SPCInputError(
            f"{name} has a missing value (NaN) at position {position + 1}; drop it first."
        )
    if np.isinf(array).any():
        position = int(np.flatnonzero(np.isinf(array))[0])
        raise SPCInputError(f"{name} has an infinite value at position {position + 1}.")
    return array


def check_min_points(count: int, minimum: int, what: str) -> None:
    """Raise unless there are at least ``minimum`` ``what`` to estimate limits from."""
    if count < minimum:
        raise SPCInputError(f"At least {minimum} {what} are needed, got {count}.")


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as float, or raise unless it is finite and strictly positive."""
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise SPCInputError(f"{name} must be a positive number, got {value}.")
    return value


def reference_mask(reference: Any, count: int) -> np.ndarray:
    """Boolean mask of the points that form the reference (phase I) period.

    Parameters
    ----------
    reference : None, int or array of bool
        ``None``: all points; ``int`` N: the first N points; a boolean array: those points.
    count : int
        Number of points (subgroups) charted.
    """
    if reference is None:
        return np.ones(count, dtype=bool)
    if isinstance(reference, (int, np.integer)):
        if not 0 < reference <= count:
            raise SPCInputError(
                f"The phase I period must be between 1 and {count} subgroups, got {reference}."
            )
        mask = np.zeros(count, dtype=bool)
        mask[: int(reference)] = True
        return mask
    mask = np.asarray(reference, dtype=bool)
    if mask.shape != (count,):
        raise SPCInputError(
            f"The phase I mask has {mask.size} entries but there are {count} subgroups."
        )
    return mask


@dataclass(frozen=True)
class Subgroups:
    """Measurements arranged as subgroups: a NaN-padded matrix, one row per subgroup.

    Attributes
    ----------
    labels : numpy.ndarray
        Subgroup label of each row, in order of first appearance.
    matrix : numpy.ndarray
        Shape (m, n_max); row i holds subgroup i's observations, padded with NaN.
    sizes : numpy.ndarray
        Number of observations in each subgroup.
    """

    labels: np.ndarray
    matrix: np.ndarray
    sizes: np.ndarray

    def means(self) -> np.ndarray:
        """Subgroup means."""
        return np.nanmean(self.matrix, axis=1)

    def ranges(self) -> np.ndarray:
        """Subgroup ranges."""
        return np.nanmax(self.matrix, axis=1) - np.nanmin(self.matrix, axis=1)

    def stds(self) -> np.ndarray:
        """Subgroup sample standard deviations (n - 1 denominator)."""
        return np.nanstd(self.matrix, axis=1, ddof=1)


def as_subgroups(
    values: Any, subgroup: Sequence[Any] | np.ndarray | None = None, min_size: int = 1
) -> Subgroups:
    """Arrange measurements as :class:`Subgroups`.

    Parameters
    ----------
    values : array-like
        Either a 2-D array (one row per subgroup, NaN where a subgroup is shorter), or 1-D
        measurements together with ``subgroup``.
    subgroup : array-like, optional
        Subgroup label of each measurement (1-D ``values`` only).
    min_size : int
        Smallest subgroup size the chart accepts.
    """
    if subgroup is None:
        matrix = np.asarray(values, dtype=float)
        if matrix.ndim != 2:
            raise SPCInputError(
                "Subgrouped values need a 2-D array (one row per subgroup) or subgroup labels."
            )
        if np.isinf(matrix).any():
            raise SPCInputError("values has an infinite value.")
        labels = np.arange(1, matrix.shape[0] + 1)
    else:
        flat = as_float_array(values)
        keys = np.asarray(subgroup)
        if keys.shape != flat.shape:
            raise SPCInputError(
                f"There are {flat.size} values but {keys.size} subgroup labels; give one each."
            )
        import pandas as pd

        codes, labels = pd.factorize(keys, sort=False)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(labels))
        position = np.arange(flat.size) - np.repeat(np.cumsum(counts) - counts, counts)
        matrix = np.full((len(labels), counts.max()), np.nan)
        matrix[codes[order], position] = flat[order]
        labels = np.asarray(labels)
    sizes = np.sum(~np.isnan(matrix), axis=1)
    check_min_points(len(sizes), 2, "subgroups")
    small = np.flatnonzero(sizes < min_size)
    if small.size:
        raise SPCInputError(
            f"Subgroup {labels[small[0]]} has {sizes[small[0]]} observation(s); this chart needs"
            f" at least {min_size} per subgroup."
        )
    return Subgroups(labels=labels, matrix=matrix, sizes=sizes)
