"""Shared pieces of the time-weighted charts: target and sigma from a reference period."""

from __future__ import annotations

from typing import Any

import numpy as np

from spc.validation import check_positive
from spc.variables import imr_limits


def target_and_sigma(
    x: np.ndarray, target: float | None, sigma: float | None, reference: Any
) -> tuple[float, float, str]:
    """In-control mean and sigma: given, or estimated as the mean and MR-bar/d2 of ``reference``.

    Returns ``(target, sigma, sigma_method)`` with ``sigma_method`` ``given`` or ``mrbar/d2``.
    """
    if target is not None and sigma is not None:
        return float(target), check_positive(sigma, "sigma"), "given"
    estimate = imr_limits(x, reference)
    mean = estimate.center if target is None else float(target)
    if sigma is None:
        return mean, check_positive(estimate.sigma, "The estimated sigma"), estimate.sigma_method
    return mean, check_positive(sigma, "sigma"), "given"
