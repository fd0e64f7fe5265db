"""What a worker process does with one image file: bytes -> SHA-256 -> measurement -> overlay.

It runs in a `concurrent.futures.ProcessPoolExecutor` worker, so its argument and result are
plain picklable dataclasses (`plantqc.images.jobs`) and nothing here touches the store or the
event loop; the daemon submits `plantqc.images.jobs.run_job`, so only the worker imports this
module and OpenCV.  A bad image
is not an exception here but an outcome with the reason, which the pipeline records.
"""

from __future__ import annotations

import hashlib
import math
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import vision
from plantqc.images.jobs import AnalysisJob, AnalysisOutcome

Measurement = vision.ParticleAnalysis | vision.ThicknessResult | vision.SurfaceDefects


def scalar_metrics(result: Measurement) -> dict[str, float]:
    """The scalar metrics of one analysis result, finite values only.

    Particles: agglomerate area fraction [1], Morisita index of the particle centroids [1]
    (`vision.morisita_index`) and, with a recipe, filler wt% from the area fraction (Delesse
    principle, `vision.filler_loading`) and its difference from the recipe's wt%.  Thickness:
    mean and standard deviation of the thickness profile [um].  Defects: defects per m2.
    """
    values: dict[str, float | None]
    if isinstance(result, vision.ParticleAnalysis):
        values = {
            "agglomerate_area_fraction": result.agglomerates.area_fraction,
            "dispersion_index": result.dispersion.morisita_index,
        }
        loading = result.loading
        if loading is not None and loading.nominal_wt_pct is not None:
            values["filler_wt_pct"] = loading.wt_pct
            values["filler_wt_pct_vs_nominal"] = loading.wt_pct - loading.nominal_wt_pct
    elif isinstance(result, vision.ThicknessResult):
        values = {
            "mean_thickness_um": result.stats_um["mean"],
            "thickness_std_um": result.stats_um["std"],
        }
    else:
        values = {"defects_per_m2": result.defects_per_m2}
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def measure(image: np.ndarray, job: AnalysisJob, name: str) -> Measurement:
    """Run the job's analysis on decoded pixels, cropped above the scale bar's strip if any."""
    pixel_size_um = job.pixel_size_um
    if job.scale_bar_um is not None:
        bar = vision.find_scale_bar(image)
        pixel_size_um = bar.pixel_size_um(job.scale_bar_um)
        image = image[: bar.content_bottom_px]
    if pixel_size_um is None:
        raise vision.ImageError("The image input gives neither a pixel size nor a scale bar.")
    if job.kind == "particles":
        recipe = job.recipe
        return vision.analyze_particles(
            image,
            pixel_size_um,
            name=name,
            filler_density=None if recipe is None else recipe.filler_density_g_cm3,
            polymer_density=None if recipe is None else recipe.polymer_density_g_cm3,
            nominal_wt_pct=None if recipe is None else recipe.nominal_wt_pct,
        )
    if job.kind == "thickness":
        return vision.measure_thickness(image, pixel_size_um, name=name)
    if job.kind == "defects":
        return vision.find_surface_defects(image, pixel_size_um, name=name)
    raise vision.ImageError(f"Unknown image analysis {job.kind!r}.")


_OVERLAYS = {
    vision.ParticleAnalysis: vision.particles_overlay,
    vision.ThicknessResult: vision.thickness_overlay,
    vision.SurfaceDefects: vision.defects_overlay,
}


def overlay_path(job: AnalysisJob, sha256: str) -> Path:
    """Where the overlay of the file with digest ``sha256`` goes: unique per content."""
    return job.overlay_folder / f"{job.path.stem}.{sha256[:12]}.png"


def analyse_file(job: AnalysisJob) -> AnalysisOutcome:
    """Read, hash, measure and annotate one image file (in a worker process).

    Parameters
    ----------
    job : AnalysisJob

    Returns
    -------
    AnalysisOutcome
        Never raises for a bad file: unreadable, truncated or unmeasurable images come back
        with ``error`` set.
    """
    started = time.perf_counter()
    try:
        data = job.path.read_bytes()
    except FileNotFoundError:
        return AnalysisOutcome(job.path, None, error="The file disappeared.", missing=True)
    except OSError as exc:
        return AnalysisOutcome(job.path, None, error=f"Cannot read the file: {exc.strerror}.")
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        image = vision.decode_image(data)
        del data
        result = measure(image, job, job.path.name)
    except vision.ImageError as exc:
        return AnalysisOutcome(
            job.path, sha256, error=str(exc), seconds=time.perf_counter() - started
        )
    except Exception as exc:  # a failure of the analysis: the daemon logs it and goes on
        return AnalysisOutcome(
            job.path,
            sha256,
            error=f"The analysis failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}",
            unexpected=True,
            seconds=time.perf_counter() - started,
        )
    values = scalar_metrics(result)
    out = overlay_path(job, sha256)
    overlay_error = _write_overlay(out, image, result)
    return AnalysisOutcome(
        job.path,
        sha256,
        document=json_safe({**result.to_dict(), **values}),
        values=values,
        overlay_path=None if overlay_error else out,
        overlay_error=overlay_error,
        seconds=time.perf_counter() - started,
    )


def json_safe(value: Any) -> Any:
    """``value`` with NaN / infinities as None and numpy scalars as Python numbers.

    PostgreSQL's JSONB refuses NaN, and a document the store refuses would never be stored.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_overlay(path: Path, image: np.ndarray, result: Measurement) -> str | None:
    draw: Any = _OVERLAYS[type(result)]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(vision.encode_png(draw(image, result)))
    except OSError as exc:  # a full or read-only disk: the measurement still stands
        return f"Cannot write the overlay {path}: {exc.strerror or exc}."
    return None
