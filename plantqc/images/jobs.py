"""What the daemon hands an image worker and gets back: plain picklable dataclasses.

Nothing here imports OpenCV or the vision library: the daemon's process builds `AnalysisJob`s,
reads `AnalysisOutcome`s and submits `run_job`, which imports the analysis in the worker
(`plantqc.images.analysis`), so the daemon itself never loads it.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ANALYSIS = "plantqc.images.analysis"  # by name: the module that imports OpenCV


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
        ``particles``, ``thickness`` or ``defects`` (`plantqc.images.settings.ImageKind`).
    pixel_size_um, scale_bar_um : float or None
        Exactly one is given: the pixel size [um], or the length of the scale bar drawn in the
        image [um], from which the pixel size is measured.
    overlay_folder : Path
        Where the annotated PNG goes.
    recipe : Recipe, optional
        For the loading metrics of particle images.
    """

    path: Path
    kind: str
    pixel_size_um: float | None
    scale_bar_um: float | None
    overlay_folder: Path
    recipe: Recipe | None = None


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
        The finite scalar metrics (`plantqc.images.settings.IMAGE_METRICS`) by name.
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
    """Submitted once at start, so that a worker pays its imports (OpenCV, the vision library)
    before any image."""
    importlib.import_module(_ANALYSIS)


def run_job(job: AnalysisJob) -> AnalysisOutcome:
    """`plantqc.images.analysis.analyse_file` of ``job``, imported in the worker only."""
    outcome: AnalysisOutcome = importlib.import_module(_ANALYSIS).analyse_file(job)
    return outcome
