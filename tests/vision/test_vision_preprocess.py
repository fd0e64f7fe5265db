"""Grey conversion, contrast check, shading correction, noise estimate and thresholds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vision import ImageError
from vision.preprocess import (
    background_surface,
    correct_illumination,
    grey_percentiles,
    noise_sigma,
    require_contrast,
    stretch_to_uint8,
    to_gray,
)
from vision.synthetic import particle_image, shading_field
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


def test_a_fit_bent_towards_large_particles_is_not_applied_in_auto_mode(micrographs):
    # NFFA-EUROPE L2_0c1e...: large bright particles cover the right third of the image. The
    # robust surface still follows them (its range is 52 % of the grey range), and
    # subtracting it would lower Otsu's effectiveness (0.77 -> 0.68): the phases get less
    # separable, which no shading correction does.
    path = micrographs / "nffa-sem" / "L2_0c1e5766bce8f601865a20e3956b909e.jpg"
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
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


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_percentiles_of_integer_images_from_the_histogram_equal_numpy_percentiles(dtype):
    # numpy's default (linear) percentile of the same ~1 Mpx sub-grid, without the sort.
    rng = np.random.default_rng(3)
    # Under 2 Mpx, so the sub-grid is the whole image.
    img = (rng.random((1500, 1300)) ** 3 * np.iinfo(dtype).max).astype(dtype)
    pcts = (0.0, 0.1, 1.0, 50.0, 99.0, 99.9, 100.0)
    assert grey_percentiles(img, pcts) == pytest.approx(np.percentile(img, pcts), abs=1e-9)


@pytest.mark.parametrize(
    ("image", "levels"),
    [
        (np.array([[10, 20, 30, 200]], np.uint8), (20.0, 30.0)),
        (np.array([[2570, 5140, 7710, 51400]], np.uint16), (5140.0, 7710.0)),
        (np.array([[10, 20, 30, 200]], np.float32) / 255, (20 / 255, 30 / 255)),
    ],
    ids=["8-bit", "16-bit", "float"],
)
def test_stretch_maps_the_levels_to_0_and_255_and_saturates_outside(image, levels):
    # 255 (v - lo) / (hi - lo), rounded and clipped: below lo -> 0, above hi -> 255.
    assert stretch_to_uint8(image, levels).tolist() == [[0, 0, 255, 255]]


def test_stretch_rounds_to_the_nearest_level():
    img = np.array([[0, 1, 2, 3]], np.uint8)
    # 255 v / 3 = 0, 85, 170, 255 exactly; 255 v / 6 = 0, 42.5, 85, 127.5 round half to even.
    assert stretch_to_uint8(img, (0.0, 3.0)).tolist() == [[0, 85, 170, 255]]
    assert stretch_to_uint8(img, (0.0, 6.0)).tolist() == [[0, 42, 85, 128]]


def test_background_fit_recovers_a_cubic_shading_exactly():
    # The robust fit of a total-degree-3 polynomial reproduces one without objects or noise.
    h, w = 256, 384
    yy, xx = np.mgrid[0:h, 0:w]
    u, v = xx / (w - 1) * 2 - 1, yy / (h - 1) * 2 - 1
    img = (0.5 + 0.1 * u - 0.05 * v**2 + 0.02 * u**2 * v + 0.03 * u**3).astype(np.float32)
    surface = background_surface(img)
    small = cv2.resize(img, surface.shape[::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(surface - small).max() < 1e-4


def test_8_bit_shading_correction_flattens_the_background_in_whole_levels():
    img = np.rint(60 + 100 * shading_field((512, 512))).astype(np.uint8)
    corrected, applied = correct_illumination(img)
    assert applied and corrected.dtype == np.uint8
    # Against a 100-level ramp: flat to a few levels (polynomial fit and integer rounding).
    assert np.ptp(corrected[32:-32, 32:-32]) <= 8


@pytest.mark.parametrize("method", ["otsu", "triangle", "adaptive"])
def test_8_bit_threshold_equals_the_float_threshold_of_the_same_levels(method):
    # 8-bit level v is grey v / 255: both images give the same level and the same mask.
    img = particle_image((256, 256), noise=0.05, seed=4).image
    a = choose_threshold(img, method)
    b = choose_threshold(to_gray(img), method)
    assert (a.level, a.bright_objects) == (b.level, b.bright_objects)
    assert np.array_equal(a.mask, b.mask)
