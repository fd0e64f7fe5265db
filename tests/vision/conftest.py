"""Helpers shared by the vision tests: encoding arrays as image files in memory."""

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


@pytest.fixture
def micrographs(shared_data):
    """The folder of public micrographs (skips when ../shared/data is absent)."""
    return shared_data / "micrographs"
