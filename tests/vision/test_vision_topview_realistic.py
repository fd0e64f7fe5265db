"""Particle analysis on realistic SEM top views (:mod:`vision.realistic`).

Truth: the generator's exact particle labels and agglomerate membership; the annotations it
burned in.
"""

from __future__ import annotations

import numpy as np
import pytest

from vision import analyze_particles
from vision.realistic import annotate, top_view


@pytest.mark.parametrize("style", ["data_bar", "box_black", "box_white", "bare_white"])
def test_annotations_are_not_particles_and_leave_the_area_fraction_alone(style):
    tv = top_view(seed=11)
    drawn = annotate(tv.image, style=style, bar_um=20.0, pixel_size_um=0.1, corner="top_left")
    clean = analyze_particles(tv.image, 0.1, annotations=None)
    masked = analyze_particles(drawn.image, 0.1)
    assert masked.masked_fraction > 0 and masked.annotations
    # Only particles under or touching the annotation are lost; none is added.
    hidden = np.unique(tv.labels[drawn.mask()]).size - 1
    assert clean.particles.count - hidden - 2 <= masked.particles.count <= clean.particles.count
    assert masked.particles.area_fraction == pytest.approx(clean.particles.area_fraction, abs=0.01)
