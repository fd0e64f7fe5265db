"""Filler loading: Delesse's principle and the weight / volume fraction conversion."""

from __future__ import annotations

import pytest

from vision import ImageError, filler_loading, volume_fraction, weight_fraction

LLZTO, LATP, PEO, PVDF_HFP = 5.1, 2.9, 1.2, 1.77  # g/cm3, DESIGN.md domain numbers


def test_10_wt_pct_llzto_in_peo_is_about_2_5_vol_pct():
    # DESIGN.md: (0.1/5.1) / (0.1/5.1 + 0.9/1.2) = 0.02548.
    assert volume_fraction(0.10, LLZTO, PEO) == pytest.approx(0.02548, abs=5e-5)


def test_weight_fraction_inverts_volume_fraction():
    for w in (0.1, 0.5, 0.8):
        v = volume_fraction(w, LATP, PVDF_HFP)
        assert weight_fraction(v, LATP, PVDF_HFP) == pytest.approx(w, rel=1e-12)


def test_equal_densities_make_weight_and_volume_fractions_equal():
    assert weight_fraction(0.3, 1.5, 1.5) == pytest.approx(0.3)


def test_area_fraction_gives_vol_pct_and_wt_pct_beside_the_nominal():
    load = filler_loading(0.02548, LLZTO, PEO, nominal_wt_pct=10.0)
    assert (load.vol_pct, load.wt_pct, load.nominal_wt_pct) == (
        pytest.approx(2.548),
        pytest.approx(10.0, abs=0.01),
        10.0,
    )


def test_area_fraction_above_one_is_one_sentence():
    with pytest.raises(ImageError, match=r"area fraction must be between 0\.0 and 1\.0"):
        filler_loading(1.2, LLZTO, PEO)


def test_non_positive_density_is_one_sentence():
    with pytest.raises(ImageError, match="filler density must be a positive density"):
        weight_fraction(0.1, 0.0, PEO)
