"""Helpers shared by the vision tests: encoding arrays as image files in memory, drawn images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    """File bytes of ``image`` (grey, or RGB / RGBA in RGB order) in the format of ``ext``."""
    if image.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        image = cv2.cvtColor(image, code)
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


#: Centres of the flakes of :func:`big_particle_and_flakes` [px].
FLAKES = [(40, 200), (360, 50), (60, 330), (340, 350), (200, 370)]


def big_particle_and_flakes() -> np.ndarray:
    """One disc of radius 80 px and five flakes of radius 3 px (29 px drawn), flat grey 200
    on 60, no blur or noise [400 x 400 px]: exact ground truth for debris."""
    image = np.full((400, 400), 60, np.uint8)
    cv2.circle(image, (200, 200), 80, 200, -1)
    for centre in FLAKES:
        cv2.circle(image, centre, 3, 200, -1)
    return image


@pytest.fixture
def micrographs(shared_data):
    """The folder of public micrographs (skips when ../shared/data is absent)."""
    return shared_data / "micrographs"
