"""Grey conversion, contrast check, shading correction, noise estimate and thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from vision import ImageError
from vision.preprocess import (
    correct_illumination,
    noise_sigma,
    require_contrast,
    to_gray,
)
from vision.synthetic import shading_field
from vision.threshold import choose_threshold, threshold_otsu, threshold_triangle


def test_8_and_16_bit_images_map_to_the_same_grey_levels():
    grey8 = np.array([[0, 51, 255]], dtype=np.uint8)
    assert np.allclose(to_gray(grey8), to_gray(grey8.astype(np.uint16) * 257), atol=1e-6)


def test_rgb_uses_rec601_luma_weights():
    # ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B.
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    assert np.allclose(to_gray(rgb)[0], [0.299, 0.587, 0.114], atol=3e-3)


def test_alpha_channel_is_ignored():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 100
    rgba[..., 3] = np.arange(16).reshape(4, 4)
    assert np.allclose(to_gray(rgba), 100 / 255, atol=3e-3)


def test_wrong_shape_is_one_sentence():
    with pytest.raises(ImageError, match=r"must be \(H, W\)"):
        to_gray(np.zeros((4, 4, 5), np.uint8))


def test_uniform_image_has_no_contrast():
    with pytest.raises(ImageError, match="no contrast"):
        require_contrast(np.full((50, 50), 0.4, np.float32))


def test_immerkaer_estimate_recovers_the_noise_sigma():
    # Immerkaer (1996): unbiased for additive white Gaussian noise on a smooth image.
    rng = np.random.default_rng(1)
    img = 0.5 + 0.03 * rng.standard_normal((512, 512)).astype(np.float32)
    assert noise_sigma(img) == pytest.approx(0.03, rel=0.03)


def test_shading_correction_flattens_the_background():
    img = (0.3 + 0.4 * shading_field((512, 512))).astype(np.float32)
    corrected, applied = correct_illumination(img)
    assert applied
    # A ten-fold reduction of the shading range; the rest is the curvature the smoothing keeps.
    assert np.ptp(corrected[32:-32, 32:-32]) < 0.1 * np.ptp(img)


def test_flat_background_is_left_alone_in_auto_mode():
    img = np.full((256, 256), 0.2, np.float32)
    img[100:120, 100:120] = 0.8
    _, applied = correct_illumination(img)
    assert not applied


def test_otsu_splits_two_levels_between_them_with_full_effectiveness():
    img = np.zeros((100, 100), np.float32) + 0.2
    img[:30] = 0.8
    level, eta = threshold_otsu(img)
    assert 0.2 < level <= 0.8 and eta == pytest.approx(1.0, abs=1e-6)


def test_triangle_level_lies_on_the_long_tail_of_a_skewed_histogram():
    rng = np.random.default_rng(2)
    img = np.clip(0.2 + 0.02 * rng.standard_normal((200, 200)), 0, 1).astype(np.float32)
    img[:10, :10] = 0.9
    assert 0.25 < threshold_triangle(img) < 0.9


def test_auto_threshold_picks_otsu_and_bright_minority_objects_on_a_bimodal_image():
    img = np.full((100, 100), 0.1, np.float32)
    img[40:60, 40:60] = 0.9
    thr = choose_threshold(img)
    assert (thr.method, thr.bright_objects) == ("otsu", True)
    assert np.count_nonzero(thr.mask) == 400


def test_unknown_threshold_method_is_one_sentence():
    with pytest.raises(ImageError, match="Threshold method must be one of"):
        choose_threshold(np.zeros((4, 4), np.float32), "magic")
