"""What a worker process does with one image file: bytes -> SHA-256 -> measurement -> overlay.

It runs in a `concurrent.futures.ProcessPoolExecutor` worker, so its argument and result are
plain picklable dataclasses and nothing here touches the store or the event loop.  A bad image
is not an exception here but an outcome with the reason, which the pipeline records.
"""

from __future__ import annotations

import hashlib
import math
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import vision

Measurement = vision.ParticleAnalysis | vision.ThicknessResult | vision.SurfaceDefects


@dataclass(frozen=True)
class Recipe:
    """What the loading metrics compare an image with: the line product's densities and wt%."""

    filler_density_g_cm3: float
    polymer_density_g_cm3: float
    nominal_wt_pct: float


@dataclass(frozen=True)
class AnalysisJob:
    """One image file to measure.

    Attributes
    ----------
    path : Path
        The image file.
    kind : str
        ``particles``, ``thickness`` or ``defects`` (`plantqc.config.ImageKind`).
    pixel_size_um, scale_bar_um : float or None
        Exactly one is given: the pixel size [um], or the length of the scale bar drawn in the
        image [um], from which the pixel size is measured.
    overlay_folder : Path
        Where the annotated PNG goes.
    recipe : Recipe, optional
        For the loading metrics of particle images.
    max_pixels : int
        Larger images are refused before decoding [px].
    """

    path: Path
    kind: str
    pixel_size_um: float | None
    scale_bar_um: float | None
    overlay_folder: Path
    recipe: Recipe | None = None
    max_pixels: int = vision.DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class AnalysisOutcome:
    """The measurement of one file, or why there is none.

    Attributes
    ----------
    sha256 : str or None
        Hex digest of the file's bytes; None when it could not be read.
    document : dict or None
        The result's ``to_dict()`` plus the scalar metrics under their own keys.
    values : dict
        The finite scalar metrics (`plantqc.config.IMAGE_METRICS`) by name.
    overlay_path : Path or None
        The annotated PNG, when written.
    error : str or None
        Why the image was rejected (one sentence); None when measured.
    unexpected : bool
        The error is a failure of the analysis itself (with its traceback), not a bad image.
    missing : bool
        The file was gone when the worker came to read it.
    overlay_error : str or None
        Why the overlay could not be written (the measurement still stands).
    seconds : float
        Time the worker spent on the file [s].
    """

    path: Path
    sha256: str | None
    document: dict[str, Any] | None = None
    values: dict[str, float] | None = None
    overlay_path: Path | None = None
    error: str | None = None
    unexpected: bool = False
    missing: bool = False
    overlay_error: str | None = None
    seconds: float = 0.0


def file_sha256(path: Path) -> str:
    """Hex SHA-256 digest of a file's bytes (FIPS 180-4), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def warm_up() -> None:
    """Nothing: submitted once at start so that a worker pays its imports before any image."""


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
        image = vision.decode_image(data, job.max_pixels)
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
