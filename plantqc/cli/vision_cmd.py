"""`plantqc vision ...`: particle, thickness and surface-defect measurements of image files.

A file prints one result (JSON with ``--json``, else a summary); a folder processes every image
in it with a progress bar on stderr and prints one JSON line per image.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

import vision
from plantqc.errors import UserError
from vision.decode import read_tiff_tags
from vision.sem_metadata import pixel_size_from_tags

IMAGE_SUFFIXES = frozenset({".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".gif"})

app = typer.Typer(
    help="Measure micrographs: filler particles and agglomerates, film thickness, surface defects.",
    no_args_is_help=True,
)
_err = Console(stderr=True, highlight=False)


class _Result(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


#: Pixels, file name and the file's TIFF tags (empty for other formats).
Analyse = Callable[[np.ndarray, str, dict[int, object]], _Result]
Draw = Callable[[np.ndarray, Any], np.ndarray]


def _images_in(folder: Path) -> list[Path]:
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise UserError(f"The folder {folder} holds no PNG, TIFF, JPEG or BMP images.")
    return files


def _read(path: Path, max_pixels: int) -> tuple[np.ndarray, dict[int, object]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    try:
        return vision.decode_image(data, max_pixels), read_tiff_tags(data)
    except vision.ImageError as exc:
        raise vision.ImageError(f"{path.name}: {exc}") from None


def _pixel_size(
    given_um: float | None, tags: dict[int, object], option: str
) -> tuple[float, str] | None:
    """The given pixel size, else the one the SEM file's metadata states, with its source."""
    if given_um is not None:
        return given_um, f"given ({option})"
    stated = pixel_size_from_tags(tags)
    return None if stated is None else (stated.pixel_size_um, stated.source)


_NO_PIXEL_SIZE = "The image states no pixel size in its metadata; give --pixel-size-um"


def _write_overlay(path: Path, rgb: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(vision.encode_png(rgb))
    except OSError as exc:
        raise UserError(f"Cannot write the overlay {path}: {exc.strerror or exc}.") from exc


def _one(path: Path, analyse: Analyse, draw: Draw, overlay: Path | None, max_pixels: int) -> Any:
    image, tags = _read(path, max_pixels)
    result = analyse(image, path.name, tags)
    if overlay is not None:
        _write_overlay(overlay, draw(image, result))
    return result


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, allow_nan=False)


def run(
    target: Path,
    analyse: Analyse,
    draw: Draw,
    summary: Callable[[Any], str],
    overlay: Path | None,
    as_json: bool,
    max_pixels: int,
) -> None:
    """Analyse one file, or every image of a folder (one JSON line each, errors included)."""
    # OpenCV's TIFF reader warns on every vendor tag of SEM files; the warnings say nothing useful.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    if not target.exists():
        raise UserError(f"{target} does not exist.")
    if target.is_file():
        result = _one(target, analyse, draw, overlay, max_pixels)
        typer.echo(_dumps(result.to_dict()) if as_json else summary(result))
        return
    files = _images_in(target)
    failed = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=_err, transient=True) as progress:
        task = progress.add_task("measuring", total=len(files))
        for path in files:
            out = None if overlay is None else overlay / f"{path.stem}_overlay.png"
            try:
                doc = _one(path, analyse, draw, out, max_pixels).to_dict()
            except vision.ImageError as exc:
                failed += 1
                doc = {"image": path.name, "error": str(exc)}
            typer.echo(_dumps(doc))
            progress.advance(task)
    if failed:
        raise UserError(f"{failed} of {len(files)} images could not be measured (see their lines).")


_MAX_PIXELS = typer.Option(
    vision.DEFAULT_MAX_PIXELS, "--max-pixels", min=1, help="Refuse larger images (checked first)."
)
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
_OVERLAY = typer.Option(
    None, "--overlay", help="Write an annotated PNG here (a folder when IMAGE is a folder)."
)


def _particles_summary(r: vision.ParticleAnalysis) -> str:
    p, a, d = r.particles, r.agglomerates, r.dispersion
    lines = [
        f"{r.image}: {r.width_px} x {r.height_px} px at {r.pixel_size_um:g} um/px "
        f"({r.pixel_size_source})",
        f"particles: {p.count}, area fraction {100 * p.area_fraction:.2f} %, "
        f"mean ECD {p.mean_eq_diameter_um:.3g} um, d10/d50/d90 "
        f"{p.d10_um:.3g}/{p.d50_um:.3g}/{p.d90_um:.3g} um",
        f"debris (far smaller than the particles, not counted): {r.debris.count}, "
        f"area fraction {100 * r.debris.area_fraction:.2f} %",
        f"agglomerates: {a.count}, area fraction {100 * a.area_fraction:.2f} %, "
        f"{100 * a.filler_fraction:.1f} % of the filler area, largest {a.largest_area_um2:.4g} um2",
        f"dispersion: Morisita {d.morisita_index:.3f}, VMR {d.quadrat_vmr:.3f}, "
        f"Clark-Evans R {d.clark_evans_r:.3f}",
    ]
    if r.loading is not None:
        nominal = r.loading.nominal_wt_pct
        lines.append(
            f"loading: {r.loading.vol_pct:.2f} vol% = {r.loading.wt_pct:.2f} wt%"
            + ("" if nominal is None else f" (nominal {nominal:g} wt%)")
        )
    return "\n".join(lines)


@app.command("particles")
def particles(
    image: Path = typer.Argument(..., help="Image file or folder of images."),
    pixel_size_um: float | None = typer.Option(
        None, "--pixel-size-um", help="Pixel size, um (default: from the SEM TIFF metadata)."
    ),
    min_area_px: int = typer.Option(10, "--min-area-px", min=1, help="Smallest particle, px²."),
    agglomerate_gap_px: float = typer.Option(
        2.0, "--agglomerate-gap-px", min=0.0, help="Particles closer than this agglomerate, px."
    ),
    threshold: str = typer.Option("auto", "--threshold", help="auto, otsu, triangle, adaptive."),
    filler_density: float | None = typer.Option(None, "--filler-density", help="Density, g/cm³."),
    polymer_density: float | None = typer.Option(None, "--polymer-density", help="Density, g/cm³."),
    nominal_wt_pct: float | None = typer.Option(None, "--nominal-wt-pct", help="Recipe wt%."),
    count_debris: bool = typer.Option(
        False,
        "--count-debris",
        help="Count objects far smaller than the image's particles as particles "
        "(default: reported apart as debris).",
    ),
    overlay: Path | None = _OVERLAY,
    as_json: bool = _JSON,
    max_pixels: int = _MAX_PIXELS,
) -> None:
    """Filler particles, agglomerates, dispersion indices and loading of top-view images."""

    def analyse(img: np.ndarray, name: str, tags: dict[int, object]) -> vision.ParticleAnalysis:
        scale = _pixel_size(pixel_size_um, tags, "--pixel-size-um")
        if scale is None:
            raise vision.ImageError(f"{name}: {_NO_PIXEL_SIZE}.")
        result = vision.analyze_particles(
            img,
            scale[0],
            name=name,
            min_area_px=min_area_px,
            agglomerate_gap_px=agglomerate_gap_px,
            threshold=threshold,
            filler_density=filler_density,
            polymer_density=polymer_density,
            nominal_wt_pct=nominal_wt_pct,
            separate_debris=not count_debris,
        )
        return dataclasses.replace(result, pixel_size_source=scale[1])

    run(image, analyse, vision.particles_overlay, _particles_summary, overlay, as_json, max_pixels)


def _thickness_summary(r: vision.ThicknessResult) -> str:
    s = r.stats_um
    return "\n".join(
        [
            f"{r.image}: {r.pixel_size_um:.4g} um/px ({r.pixel_size_source}), "
            f"tilt {r.tilt_deg:.2f} deg",
            f"measured {100 * r.coverage:.1f} % of the width; "
            f"{100 * r.masked_fraction:.1f} % of the image masked as annotations",
            f"thickness: mean {s['mean']:.4g} um, std {s['std']:.3g}, min {s['min']:.4g}, "
            f"max {s['max']:.4g}, p2 {s['p2']:.4g}, p98 {s['p98']:.4g} um",
            f"defects: {len(r.defects)}"
            + "".join(f"\n  {d.kind} at x {d.x_px_start}-{d.x_px_end} px" for d in r.defects),
        ]
    )


@app.command("thickness")
def thickness(
    image: Path = typer.Argument(..., help="Cross-section image file or folder of images."),
    pixel_size_um: float | None = typer.Option(None, "--pixel-size-um", help="Pixel size, um."),
    scale_bar_um: float | None = typer.Option(
        None, "--scale-bar-um", help="Length of the scale bar drawn in the image, um."
    ),
    overlay: Path | None = _OVERLAY,
    as_json: bool = _JSON,
    max_pixels: int = _MAX_PIXELS,
) -> None:
    """Film thickness profile, tilt and local defects of cross-section images.

    The pixel size is the one given, or the scale bar's, or the one the SEM TIFF's metadata
    states; annotations (data bars, scale-bar boxes) are left out of the measurement."""
    if pixel_size_um is not None and scale_bar_um is not None:
        raise UserError("Give at most one of --pixel-size-um and --scale-bar-um.")

    def analyse(img: np.ndarray, name: str, tags: dict[int, object]) -> vision.ThicknessResult:
        if scale_bar_um is not None:
            bar = vision.find_scale_bar(img)
            scale = (
                bar.pixel_size_um(scale_bar_um),
                f"scale bar ({bar.length_px:.1f} px = {scale_bar_um:g} um)",
            )
        else:
            scale = _pixel_size(pixel_size_um, tags, "--pixel-size-um")
        if scale is None:
            raise vision.ImageError(f"{name}: {_NO_PIXEL_SIZE} or --scale-bar-um.")
        result = vision.measure_thickness(img, scale[0], name=name)
        return dataclasses.replace(result, pixel_size_source=scale[1])

    run(image, analyse, vision.thickness_overlay, _thickness_summary, overlay, as_json, max_pixels)


def _defects_summary(r: vision.SurfaceDefects) -> str:
    counts = r.to_dict()["counts"]
    return (
        f"{r.image}: {len(r.defects)} defects in {r.inspected_area_m2 * 1e4:.4g} cm2 "
        f"({r.defects_per_m2:.4g} per m2): " + ", ".join(f"{n} {k}" for k, n in counts.items())
    )


@app.command("defects")
def defects(
    image: Path = typer.Argument(..., help="Top-view web image file or folder of images."),
    pixel_size_um: float = typer.Option(..., "--pixel-size-um", help="Pixel size, um."),
    overlay: Path | None = _OVERLAY,
    as_json: bool = _JSON,
    max_pixels: int = _MAX_PIXELS,
) -> None:
    """Pinholes, bubbles and streaks of top-view web images, and defects per m2."""

    def analyse(img: np.ndarray, name: str, tags: dict[int, object]) -> vision.SurfaceDefects:
        return vision.find_surface_defects(img, pixel_size_um, name=name)

    run(image, analyse, vision.defects_overlay, _defects_summary, overlay, as_json, max_pixels)
