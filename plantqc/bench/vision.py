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
from vision.realistic import (
    LABEL_UNITS_UM,
    Annotated,
    Section,
    annotate,
    cross_section,
    top_view,
    varied_section,
)
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


# --------------------------------------------------------------------------------------------
# Quality sweep: every acceptance figure of issue 17, on both generators and the real images.

#: Where the public micrographs live by default (``../shared/data/micrographs`` of the repo).
MICROGRAPHS = Path(__file__).resolve().parents[3] / "shared" / "data" / "micrographs"

#: NFFA-EUROPE images whose hand mask labels every particle (the folder's README): the granular
#: film, the agglomerate, the sparse dots, the ring and the sparse bright particles. The large
#: faceted particles' mask covers only the large ones: there the count is a sanity check
#: (within a factor of 1.5), kept apart in :data:`NFFA_LARGE_ONLY`.
#: Values: the README's particle count of each mask.
NFFA_EVERY_PARTICLE = {
    "L2_0a111f9bab302c27064c3d9166f2afc4": 115,
    "L2_0a7efff5757e6b543ee1a0d17328c881": 52,
    "L2_0b3ff6d0426c2223ed121a5352b26b0f": 46,
    "L2_0c0bbcbbfc104a68cc7fb45a8ae24201": 1,
    "L2_0c6f769bd72e154dac9c98600435aa13": 110,
}
NFFA_LARGE_ONLY = {"L2_0c1e5766bce8f601865a20e3956b909e": 47}


def _scale_bar_cases(n: int) -> list[Annotated]:
    """Annotated realistic top views whose bar labels span the units (``µm``, ``um``, ``mm``,
    ``nm``), spacing, styles and corners."""
    from vision.realistic import CORNERS, STYLES

    # (unit, bar value in that unit, pixel size in um): bars of 100-200 px on a 512 px view.
    units = (("µm", 20.0, 0.1), ("um", 50.0, 0.25), ("mm", 2.0, 10.0), ("nm", 500.0, 0.004))
    out = []
    for i in range(n):
        unit, value, px_um = units[i % len(units)]
        style = STYLES[i % len(STYLES)]
        corner = CORNERS[(i // len(STYLES)) % len(CORNERS)]
        tv = top_view((512, 512), seed=200 + i, n_primary=40, n_large=2, n_agglomerates=3)
        out.append(
            annotate(
                tv.image,
                style=style,
                bar_um=value * LABEL_UNITS_UM[unit],
                pixel_size_um=px_um,
                unit=unit,
                spaced=bool(i % 2),
                corner=corner,
                label_above=bool(i % 3),
                ticks=bool(i % 2 == 0),
                seed=i,
            )
        )
    return out


def _score_sections(
    pairs: list[tuple[np.ndarray, np.ndarray, float]], pixel_size_um: float
) -> dict[str, float]:
    """Worst and median per-column MAE [um], worst tilt error [deg] and lowest coverage of
    measured sections given as (image, truth thickness [um], truth tilt [deg])."""
    mae, tilt, cover = [], [], []
    for image, truth_um, truth_tilt in pairs:
        film = measure_thickness(image, pixel_size_um)
        mae.append(float(np.nanmean(np.abs(film.thickness_um - truth_um))))
        tilt.append(abs(film.tilt_deg - truth_tilt))
        cover.append(film.coverage)
    return {
        "mae_um_max": max(mae),
        "mae_um_median": float(np.median(mae)),
        "tilt_err_deg_max": max(tilt),
        "coverage_min": min(cover),
    }


def _score_top_views(
    views: list[tuple[np.ndarray, np.ndarray, int]], pixel_size_um: float
) -> dict[str, float]:
    """Matched F1 over all particles of the set, lowest and median F1 of an image, worst
    area-fraction error and the share of images whose agglomerate count agrees, of top views
    given as (image, truth labels, truth agglomerate count)."""
    f1, af, agg_ok = [], [], []
    matched, total = 0.0, 0
    for image, labels, n_agg in views:
        r = analyze_particles(image, pixel_size_um, annotations=None)
        f1.append(match_f1(labels, r.segmentation.labels))
        # F1 = 2 TP / (n_truth + n_found): the matches of each image, pooled over the set.
        both = (len(np.unique(labels)) - 1) + r.particles.count
        matched += f1[-1] * both / 2.0
        total += both
        af.append(abs(r.particles.area_fraction - float(np.count_nonzero(labels)) / labels.size))
        got = r.agglomerates.count
        agg_ok.append(got == n_agg if n_agg <= 10 else abs(got - n_agg) <= 0.1 * n_agg)
    return {
        "f1_pooled": 2.0 * matched / total if total else 1.0,
        "f1_min": min(f1),
        "f1_median": float(np.median(f1)),
        "af_err_max": max(af),
        "agglomerates_ok": float(np.mean(agg_ok)),
    }


#: Realistic top-view kinds of the sweep: clean, shot noise, a light and a strong granular
#: background and a weak particle contrast (keyword arguments of :func:`vision.realistic.top_view`).
REALISTIC_TOP_KINDS: dict[str, dict[str, float]] = {
    "clean": {},
    "noisy": {"dose": 30.0},
    "textured": {"texture": 0.06, "dose": 40.0},
    "granular": {"texture": 0.12, "dose": 40.0},
    "low_contrast": {"background": 0.40, "particle": 0.52, "dose": 60.0},
}
#: Old-generator top-view kinds (keyword arguments of :func:`vision.synthetic.particle_image`),
#: the cases of tests/vision/test_vision_particles.py.
SYNTHETIC_TOP_KINDS: dict[str, dict[str, float]] = {
    "clean": {},
    "clusters": {"cluster_probability": 0.6, "fill_probability": 0.9},
    "noisy": {"noise": 0.12},
    "uneven": {"shading": 0.6, "noise": 0.03},
    "low_contrast": {"contrast": 0.08, "noise": 0.02},
}


def _nffa_scores(folder: Path) -> dict[str, float]:
    """Particle count and area fraction of each NFFA image against its hand mask, and the
    number of debris objects reported beside the particles."""
    out: dict[str, float] = {}
    for stem, n_mask in {**NFFA_EVERY_PARTICLE, **NFFA_LARGE_ONLY}.items():
        image = cv2.imread(str(folder / f"{stem}.jpg"), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(str(folder / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) == 0
        r = analyze_particles(image, 1.0)
        key = f"nffa_{stem[3:8]}"
        out[f"{key}_count"] = r.particles.count
        out[f"{key}_count_ratio"] = r.particles.count / n_mask
        out[f"{key}_debris"] = r.debris.count
        out[f"{key}_af_err"] = r.particles.area_fraction - float(mask.mean())
    return out


def _other_micrographs(folder: Path) -> dict[str, float]:
    """The jrminter images against their published references (the folder's README)."""
    from vision import decode_image, find_scale_bar, segment_particles

    def read(name: str) -> np.ndarray:
        return decode_image((folder / name).read_bytes())

    seg = segment_particles(read("blobs.gif"), split=False, min_area_px=1)
    model = analyze_particles(read("model-agglomerates.tif"), 1.0)
    bars = {
        name: find_scale_bar(read(name)).length_px / ref
        for name, ref in (("scipy_ex_MV_HFV_012.jpg", 317), ("fib620eb.tif", 128))
    }
    return {
        "blobs_count": len(seg.particles),
        "blobs_area_ratio": sum(p.area_px for p in seg.particles) / 22243,
        "model_agglomerates_count": model.particles.count,
        "model_agglomerates_groups": model.agglomerates.count,
        "scipy_bar_ratio": bars["scipy_ex_MV_HFV_012.jpg"],
        "fib620eb_bar_ratio": bars["fib620eb.tif"],
    }


def run_vision_quality(
    n_images: int = 20, size_px: int = 384, micrographs: Path | None = MICROGRAPHS
) -> dict[str, float]:
    """Every acceptance figure of issue 17 in one flat dict (worst case over the images).

    Parameters
    ----------
    n_images : int, default 20
        Images per kind, each its own seed.
    size_px : int, default 384
        Side of the top views [px].
    micrographs : pathlib.Path, optional
        The public micrograph folder; its figures are left out when it is None or absent.

    Notes
    -----
    Truth is exact for both generators: per-column normal thickness and tilt of the drawn
    film, drawn scale-bar length, particle labels and agglomerate membership. The real images
    are scored against the hand masks and references named in the folder's README.
    """
    from vision.realistic import top_view as realistic_top
    from vision.scale_bar import find_scale_bar
    from vision.synthetic import draw_scale_bar, film_image

    fig: dict[str, float] = {"n_images": n_images}
    sections = [varied_section(seed, SECTION_PIXEL_UM) for seed in range(n_images)]
    for k, v in _score_sections(
        [(d.image, t.thickness_um, t.tilt_deg) for t, d in sections], SECTION_PIXEL_UM
    ).items():
        fig[f"realistic_section_{k}"] = v
    bars = [d for _, d in sections] + _scale_bar_cases(n_images)
    fig["scale_bar_rel_err_max"] = max(
        abs(find_scale_bar(d.image).length_px / d.bar_length_px - 1.0) for d in bars
    )
    old: list[tuple[np.ndarray, np.ndarray, float]] = []
    old_bars: list[tuple[np.ndarray, int]] = []
    for seed in range(n_images):
        r = np.random.default_rng(1000 + seed)
        film = film_image(
            (400, 640),
            thickness_px=float(r.uniform(80, 180)),
            top_px=float(r.uniform(60, 120)),
            tilt_deg=float(r.uniform(-3, 3)),
            wave_amplitude_px=float(r.uniform(0, 4)),
            texture=float(r.uniform(0, 0.05)),
            noise=float(r.uniform(0, 0.05)),
            seed=seed,
        )
        # The tilt of a wavy film is the slope of the least-squares line through its
        # mid-line, as vision.realistic defines it: the generator's nominal tilt leaves out
        # the slope that the waves' incomplete periods add across the width.
        x = np.arange(film.top_px.size) + 0.5
        tilt = float(np.degrees(np.arctan(np.polyfit(x, (film.top_px + film.bottom_px) / 2, 1)[0])))
        image = film.image
        if seed % 2:
            # Every other one with the old generator's own data strip and ticked bar.
            image = draw_scale_bar(image, 40 + 10 * (seed % 7), 385, 160 + 4 * seed)
            old_bars.append((image, 160 + 4 * seed))
        old.append((image, film.thickness_px * SECTION_PIXEL_UM, tilt))
    for k, v in _score_sections(old, SECTION_PIXEL_UM).items():
        fig[f"synthetic_section_{k}"] = v
    fig["synthetic_scale_bar_rel_err_max"] = max(
        (abs(find_scale_bar(image).length_px / length - 1.0) for image, length in old_bars),
        default=0.0,
    )
    for kind, options in REALISTIC_TOP_KINDS.items():
        views = []
        for seed in range(n_images):
            tv = realistic_top(
                (size_px, size_px), seed=seed, n_primary=45, n_large=3, n_agglomerates=4, **options
            )
            views.append((tv.image, tv.labels, tv.n_agglomerates))
        for k, v in _score_top_views(views, 0.1).items():
            fig[f"realistic_top_{kind}_{k}"] = v
    for kind, options in SYNTHETIC_TOP_KINDS.items():
        views = []
        for seed in range(n_images):
            sp = particle_image((size_px, size_px), seed=seed, **options)
            views.append((sp.image, sp.labels, sp.n_agglomerates))
        for k, v in _score_top_views(views, 0.5).items():
            fig[f"synthetic_top_{kind}_{k}"] = v
    if micrographs is not None and micrographs.is_dir():
        fig.update(_nffa_scores(micrographs / "nffa-sem"))
        fig.update(_other_micrographs(micrographs / "jrminter"))
    return fig
