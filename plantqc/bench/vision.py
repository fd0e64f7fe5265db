"""`plantqc bench vision`: particle analysis of a large synthetic micrograph on one core, against
a scikit-image pipeline (threshold_otsu + label + regionprops) on the same image in the same run,
with both pipelines' matching F1 against the exact ground truth."""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.filler import analyze_particles
from vision.synthetic import SyntheticParticles, match_f1, particle_image

# Mild noise and shading: a realistic image on which the baseline's global threshold still
# works, so that the speed ratio compares two pipelines that both find the particles.
NOISE = 0.02
SHADING = 0.1


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

    def to_dict(self) -> dict[str, float | int]:
        """Figures as a flat dict."""
        return asdict(self)


def benchmark_image(size_px: int, seed: int = 0) -> SyntheticParticles:
    """The benchmark's synthetic particle image with its ground truth."""
    return particle_image((size_px, size_px), noise=NOISE, shading=SHADING, seed=seed)


def skimage_pipeline(image: np.ndarray) -> np.ndarray:
    """Baseline: Otsu threshold, connected-component labels, area and centroid per region."""
    from skimage.filters import threshold_otsu
    from skimage.measure import label, regionprops

    labels = label(image > threshold_otsu(image))
    for region in regionprops(labels):
        _ = (region.area, region.centroid)
    return labels


def _memory_child(path: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    cv2.setNumThreads(1)
    image = np.load(path)
    tracemalloc.start()
    analyze_particles(image, 1.0)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((rss_kib / 1024.0, traced / 2**20))


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
        rss, traced = queue.get(timeout=600)
        proc.join()
    return rss, traced


def run_vision_bench(size_px: int = 4096, seed: int = 0, repeats: int = 1) -> VisionBenchResult:
    """Time both pipelines (best of ``repeats``) on one synthetic image, on one core.

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
        analyze_particles(small, 1.0)
        skimage_pipeline(small)
        ours_s, base_s = np.inf, np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            ours = analyze_particles(truth.image, 1.0)
            t1 = time.perf_counter()
            base = skimage_pipeline(truth.image)
            t2 = time.perf_counter()
            ours_s, base_s = min(ours_s, t1 - t0), min(base_s, t2 - t1)
    finally:
        cv2.setNumThreads(threads)
    rss, traced = peak_memory(truth.image)
    return VisionBenchResult(
        size_px=size_px,
        particles_truth=truth.count,
        plantqc_s=ours_s,
        skimage_s=base_s,
        speedup=base_s / ours_s,
        plantqc_f1=match_f1(truth.labels, ours.segmentation.labels),
        skimage_f1=match_f1(truth.labels, base),
        plantqc_count=ours.particles.count,
        skimage_count=int(base.max()),
        peak_rss_mib=rss,
        peak_traced_mib=traced,
    )
