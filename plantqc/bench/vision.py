"""`plantqc bench vision`: particle analysis of a large synthetic micrograph on one core, against
a scikit-image pipeline (threshold_otsu + label + regionprops) on the same image in the same run,
with both pipelines' matching F1 against the exact ground truth.

What each side computes (both timed from the 8-bit image to per-object measures)
-------------------------------------------------------------------------------
plantqc, :func:`vision.filler.analyze_particles`
    grey conversion and percentile stretch to 8 bits, shading correction (robust polynomial
    background), Gaussian denoising, automatic threshold, hole filling and 8-connected labelling
    (one outline trace, each outline drawn filled), objects below ``MIN_AREA_PX`` dropped,
    clump splitting at necks, then per particle: area, centroid,
    equivalent diameter, contour perimeter and circularity ``4 pi A / P^2``, aspect ratio of the
    equal-moment ellipse, bounding box; plus agglomerates, size distribution, dispersion indices.
scikit-image, :func:`skimage_pipeline`
    ``threshold_otsu`` of the raw image, ``label`` (8-connected), ``regionprops``; regions below
    ``MIN_AREA_PX`` dropped, and for every other region the same per-object measures: area,
    centroid, ``equivalent_diameter_area``, ``perimeter`` and circularity ``4 pi A / P^2``,
    ``axis_major_length`` / ``axis_minor_length`` and their ratio, ``bbox``. No shading
    correction, denoising or splitting: the straightforward pipeline the issue names.

F1 of each side counts its kept objects only (the baseline's regions below ``MIN_AREA_PX``
are removed from its label image before matching, outside the timed part).

Cross section (``size`` px wide, 3/8 as high, 0.25 um/px, :func:`vision.realistic.cross_section`
with an SEM data band burned in)
plantqc, :func:`vision.thickness.measure_thickness`
    annotation masking, surface and interface traced and refined, normal thickness, voids,
    delamination.
baseline, :func:`gradient_thickness`
    scikit-image ``sobel_h`` of the image and, in every column, the two strongest
    gradient rows at least ``min_separation_px`` apart: the straightforward column-wise
    edge picker. Both are scored by their per-column mean absolute error against the exact
    normal thickness.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Empty

import cv2
import numpy as np

from vision.filler import analyze_particles
from vision.realistic import Annotated, Section, annotate, cross_section
from vision.synthetic import SyntheticParticles, match_f1, particle_image
from vision.thickness import measure_thickness

# Mild noise and shading: a realistic image on which the baseline's global threshold still
# works, so that the speed ratio compares two pipelines that both find the particles.
NOISE = 0.02
SHADING = 0.1
# Smallest object either pipeline keeps [px^2]; plantqc's default.
MIN_AREA_PX = 10


@dataclass(frozen=True)
class VisionBenchResult:
    """Figures of one benchmark run (times in seconds, memory in MiB)."""

    size_px: int
    particles_truth: int
    plantqc_s: float
    skimage_s: float
    speedup: float
    plantqc_f1: float
    skimage_f1: float
    plantqc_count: int
    skimage_count: int
    peak_rss_mib: float
    peak_traced_mib: float
    section_width_px: int
    thickness_plantqc_s: float
    thickness_baseline_s: float
    thickness_speedup: float
    thickness_plantqc_mae_um: float
    thickness_baseline_mae_um: float
    thickness_coverage: float

    def to_dict(self) -> dict[str, float | int]:
        """Figures as a flat dict."""
        return asdict(self)


def benchmark_image(size_px: int, seed: int = 0) -> SyntheticParticles:
    """The benchmark's synthetic particle image with its ground truth."""
    return particle_image((size_px, size_px), noise=NOISE, shading=SHADING, seed=seed)


#: Pixel size of the benchmark cross section [um / px].
SECTION_PIXEL_UM = 0.25


def benchmark_section(width_px: int, seed: int = 0) -> tuple[Section, Annotated]:
    """The benchmark's cross section (``width_px`` wide, 3/8 as high, at least 320 px) and its
    annotated image."""
    # At least 320 rows: an SEM data band (four text lines high) is a minor part of the image.
    h = max(320, 3 * width_px // 8)
    truth = cross_section(
        (h, width_px),
        pixel_size_um=SECTION_PIXEL_UM,
        thickness_um=0.35 * h * SECTION_PIXEL_UM,
        tilt_deg=1.5,
        wave_um=1.0,
        voids=max(2, width_px // 200),
        seed=seed,
    )
    bar_um = 0.2 * width_px * SECTION_PIXEL_UM
    return truth, annotate(
        truth.image, style="data_bar", bar_um=bar_um, pixel_size_um=SECTION_PIXEL_UM
    )


def gradient_thickness(image: np.ndarray, min_separation_px: int = 4) -> np.ndarray:
    """Baseline thickness [px] per column: the distance between the two strongest rows of
    scikit-image's horizontal Sobel response, at least ``min_separation_px`` apart."""
    from skimage.filters import sobel_h

    g = np.abs(sobel_h(image.astype(np.float32) / 255.0))
    first = np.argmax(g, axis=0)
    rows = np.arange(g.shape[0])[:, None]
    g[np.abs(rows - first[None, :]) < min_separation_px] = 0.0
    second = np.argmax(g, axis=0)
    return np.abs(second - first).astype(np.float64)


def skimage_pipeline(
    image: np.ndarray, min_area_px: int = MIN_AREA_PX
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline: Otsu threshold, 8-connected labels, and per region what plantqc measures.

    Parameters
    ----------
    image : numpy.ndarray
        Grey image, bright objects.
    min_area_px : int
        Regions smaller than this are dropped, as plantqc drops them [px^2].

    Returns
    -------
    labels : numpy.ndarray
        Label image of all regions (small ones included).
    table : numpy.ndarray
        (n, 12) one row per kept region: label, x, y [px], area [px^2], equivalent diameter
        [px], perimeter [px], circularity, major and minor axis [px], aspect ratio, bbox
        width and height [px].
    """
    from skimage.filters import threshold_otsu
    from skimage.measure import label, regionprops

    labels = label(image > threshold_otsu(image), connectivity=2)
    rows = []
    for region in regionprops(labels):
        area = region.area
        if area < min_area_px:
            continue
        y, x = region.centroid
        perimeter = region.perimeter
        major, minor = region.axis_major_length, region.axis_minor_length
        r0, c0, r1, c1 = region.bbox
        rows.append(
            (
                region.label,
                x,
                y,
                area,
                region.equivalent_diameter_area,
                perimeter,
                4.0 * np.pi * area / perimeter**2 if perimeter > 0 else 1.0,
                major,
                minor,
                major / minor if minor > 0 else np.inf,
                c1 - c0,
                r1 - r0,
            )
        )
    return labels, np.array(rows, dtype=float).reshape(-1, 12)


def kept_labels(labels: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The baseline's label image with only the regions listed in its table."""
    lut = np.zeros(int(labels.max()) + 1, labels.dtype)
    kept = table[:, 0].astype(np.int64)
    lut[kept] = kept
    return lut[labels]


def _memory_child(path: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    cv2.setNumThreads(1)
    image = np.load(path)
    tracemalloc.start()
    analyze_particles(image, 1.0, min_area_px=MIN_AREA_PX)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    queue.put((_peak_rss_mib(), traced / 2**20))


def _peak_rss_mib() -> float:
    """High-water mark of this process's resident memory [MiB].

    Linux's ``VmHWM`` belongs to the address space, which ``exec`` replaces; ``ru_maxrss`` is
    not reset by ``exec`` and so also holds the parent's size at the time of the fork that
    started a spawned child.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_memory(image: np.ndarray) -> tuple[float, float]:
    """Peak RSS of a fresh process that runs one analysis (interpreter and libraries included)
    and the peak of Python/numpy allocations traced during it [MiB]."""
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "image.npy")
        np.save(path, image)
        queue = ctx.Queue()
        proc = ctx.Process(target=_memory_child, args=(path, queue))
        proc.start()
        while True:
            try:
                rss, traced = queue.get(timeout=1.0)
                break
            except Empty:
                # A child that died (e.g. killed for memory) would otherwise be waited for.
                if not proc.is_alive():
                    raise RuntimeError(
                        f"The memory probe process exited with code {proc.exitcode}."
                    ) from None
        proc.join()
    return rss, traced


def run_vision_bench(size_px: int = 4096, seed: int = 0, repeats: int = 1) -> VisionBenchResult:
    """Time both pipelines (best of ``repeats``) on one synthetic image, and the thickness
    measurement and its baseline on one realistic cross section, on one core.

    Parameters
    ----------
    size_px : int, default 4096
        Image side [px].
    seed : int, default 0
    repeats : int, default 1
    """
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        truth = benchmark_image(size_px, seed)
        # Warm-up on a small image: lazy imports and first-call set-up are not per-image costs.
        small = benchmark_image(256, seed).image
        analyze_particles(small, 1.0, min_area_px=MIN_AREA_PX)
        skimage_pipeline(small)
        ours_s, base_s = np.inf, np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            ours = analyze_particles(truth.image, 1.0, min_area_px=MIN_AREA_PX)
            t1 = time.perf_counter()
            base, table = skimage_pipeline(truth.image)
            t2 = time.perf_counter()
            ours_s, base_s = min(ours_s, t1 - t0), min(base_s, t2 - t1)
    finally:
        cv2.setNumThreads(threads)
    rss, traced = peak_memory(truth.image)
    section, drawn = benchmark_section(size_px, seed)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        small = benchmark_section(256, seed)[1].image
        measure_thickness(small, SECTION_PIXEL_UM)
        gradient_thickness(small)
        ours_t, base_t = np.inf, np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            film = measure_thickness(drawn.image, SECTION_PIXEL_UM)
            t1 = time.perf_counter()
            naive = gradient_thickness(drawn.image)
            t2 = time.perf_counter()
            ours_t, base_t = min(ours_t, t1 - t0), min(base_t, t2 - t1)
    finally:
        cv2.setNumThreads(threads)
    truth_um = section.thickness_um
    return VisionBenchResult(
        size_px=size_px,
        particles_truth=truth.count,
        plantqc_s=ours_s,
        skimage_s=base_s,
        speedup=base_s / ours_s,
        plantqc_f1=match_f1(truth.labels, ours.segmentation.labels),
        skimage_f1=match_f1(truth.labels, kept_labels(base, table)),
        plantqc_count=ours.particles.count,
        skimage_count=int(table.shape[0]),
        peak_rss_mib=rss,
        peak_traced_mib=traced,
        section_width_px=size_px,
        thickness_plantqc_s=ours_t,
        thickness_baseline_s=base_t,
        thickness_speedup=base_t / ours_t,
        thickness_plantqc_mae_um=float(np.nanmean(np.abs(film.thickness_um - truth_um))),
        thickness_baseline_mae_um=float(np.mean(np.abs(naive * SECTION_PIXEL_UM - truth_um))),
        thickness_coverage=film.coverage,
    )
