"""Realistic SEM micrographs with exact ground truth, drawn independently of
:mod:`vision.synthetic`.

A second test bed, written so that the measurements cannot have been tuned to the images: its own
layer model, particle shapes, detector physics and burned-in annotations (SEM data bars, boxed
and bare scale bars with labels), none of it shared with :mod:`vision.synthetic`.

Cross sections (:func:`cross_section`): a mounting resin or vacuum above, a polymer film holding
bright filler particles and dark voids, a substrate (striated metal foil or charging glass)
below; wedge, waviness, dents, delamination gaps and tilt; curtaining streaks from ion milling,
edge brightening, a charging halo, PSF blur, scan-line jitter and shot noise.

Top views (:func:`top_view`): lognormal primary particles (convex polygons and ellipses), single
large convex particles, agglomerates of touching or nearly touching primaries with necks, ring
particles, a granular background, edge brightening, blur and shot noise.

Annotations (:func:`annotate`): burned in after acquisition, in pure black / white, as SEM
software does, each with its exact scale-bar length and the region it covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.thickness import normal_distance

_SUB = 3  # cv2 drawing with 1/8 px sub-pixel precision
_K = 1 << _SUB

#: Scale-bar styles :func:`annotate` draws.
STYLES = ("data_bar", "box_black", "box_white", "bare_white", "bare_black")
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
#: Labels as SEM programs print them: value, unit spelling and spacing vary.
LABEL_UNITS_UM = {"µm": 1.0, "um": 1.0, "mm": 1000.0, "nm": 0.001}


# --------------------------------------------------------------------------------------------
# Detector physics shared by both kinds of image.


def _acquire(
    clean: np.ndarray,
    rng: np.random.Generator,
    *,
    blur_px: float,
    dose: float,
    jitter_px: float,
    read_noise: float,
) -> np.ndarray:
    """PSF blur, scan-line jitter (each line shifted along x), shot and read noise, 8-bit ADC.

    ``dose`` is the mean number of detected electrons at full scale: Poisson statistics make
    the noise grow as the square root of the signal, as in an SEM detector.
    """
    img = cv2.GaussianBlur(clean.astype(np.float32), (0, 0), blur_px) if blur_px > 0 else clean
    img = img.astype(np.float32)
    if jitter_px > 0:
        h, w = img.shape
        shift = rng.normal(0.0, jitter_px, h).astype(np.float32)
        map_x = np.arange(w, dtype=np.float32)[None, :] + shift[:, None]
        map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
        img = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if dose > 0:
        img = rng.poisson(np.clip(img, 0.0, None) * dose).astype(np.float32) / np.float32(dose)
    if read_noise > 0:
        img += rng.normal(0.0, read_noise, img.shape).astype(np.float32)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed over ``sigma`` samples (1-D)."""
    raw = rng.standard_normal(n + 8 * int(sigma + 1))
    k = np.exp(-0.5 * (np.arange(-4 * int(sigma + 1), 4 * int(sigma + 1) + 1) / sigma) ** 2)
    out = np.convolve(raw, k / k.sum(), mode="valid")[:n]
    return out / max(float(out.std()), 1e-12)


# --------------------------------------------------------------------------------------------
# Cross sections.


@dataclass(frozen=True)
class Section:
    """A realistic cross section and its truth.

    Attributes
    ----------
    image : numpy.ndarray
        (H, W) ``uint8``, annotations not yet burned in (see :func:`annotate`).
    pixel_size_um : float
        [um / px].
    top_px, bottom_px : numpy.ndarray
        (W,) film surface and film / substrate interface at each column centre ``x + 0.5``,
        in pixel-edge coordinates (row ``i`` spans ``[i, i + 1)``) [px].
    thickness_px : numpy.ndarray
        (W,) local thickness normal to the film: the distance from the surface point of each
        column to the nearest point of the interface (ISO 1463 measures normal to the
        interface; the shortest segment meets the interface at a right angle) [px].
    tilt_deg : float
        Tilt of the film's mid-line, positive descending to the right [deg].
    void_mask : numpy.ndarray
        (H, W) bool, the voids' pixels.
    delaminated : numpy.ndarray
        (W,) bool, columns where a gap separates film and substrate.
    """

    image: np.ndarray = field(repr=False)
    pixel_size_um: float
    top_px: np.ndarray = field(repr=False)
    bottom_px: np.ndarray = field(repr=False)
    thickness_px: np.ndarray = field(repr=False)
    tilt_deg: float
    void_mask: np.ndarray = field(repr=False)
    delaminated: np.ndarray = field(repr=False)

    @property
    def thickness_um(self) -> np.ndarray:
        """(W,) local normal thickness [um]."""
        return self.thickness_px * self.pixel_size_um


def cross_section(
    shape: tuple[int, int] = (480, 640),
    *,
    pixel_size_um: float = 0.25,
    thickness_um: float = 40.0,
    tilt_deg: float = 0.0,
    wedge_um: float = 0.0,
    wave_um: float = 0.0,
    wave_period_um: float = 80.0,
    dents: int = 0,
    delamination: bool = False,
    voids: int = 6,
    filler_fraction: float = 0.15,
    substrate: str = "foil",
    vacuum: bool = False,
    curtaining: float = 0.04,
    edge_glow: float = 0.15,
    halo: float = 0.06,
    blur_px: float = 1.0,
    dose: float = 60.0,
    jitter_px: float = 0.3,
    seed: int = 0,
) -> Section:
    """A cross section of a composite electrolyte film on a substrate, as seen in an SEM.

    Parameters
    ----------
    shape : (int, int)
        Height, width [px].
    pixel_size_um : float
        [um / px].
    thickness_um : float
        Mean normal thickness [um].
    tilt_deg : float
        Sample tilt (positive descends to the right) [deg].
    wedge_um : float
        Thickness change from the left to the right edge [um].
    wave_um, wave_period_um : float
        Waviness of the whole film (both surfaces) and of the surface alone (half amplitude)
        [um].
    dents : int
        Local dents pressed into the surface (Gaussian, 10-25 % of the thickness deep).
    delamination : bool
        A gap between film and substrate over 15-30 % of the width.
    voids : int
        Pores inside the film (dark ellipses, 0.8-2.5 um).
    filler_fraction : float
        Area fraction of the bright filler particles inside the film.
    substrate : {"foil", "glass"}
        Bright striated metal foil, or darker glass with a charging gradient.
    vacuum : bool
        Vacuum (black) above the film instead of mounting resin.
    curtaining, edge_glow, halo : float
        Amplitudes [0-1 of full scale] of the ion-milling curtains (vertical streaks below the
        surface), the edge brightening of the film surface and the charging halo above it.
    blur_px, dose, jitter_px : float
        PSF sigma [px], electrons at full scale, scan-line jitter sigma [px].
    seed : int
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    px = pixel_size_um
    # The curves run ``margin`` columns past both edges, so that the normal from a surface point
    # near an edge finds its foot on the interface even outside the image.
    margin = math.ceil(0.6 * (thickness_um + abs(wedge_um)) / px) + 4
    xc = np.arange(-margin, w + margin, dtype=np.float64) + 0.5
    slope = math.tan(math.radians(tilt_deg))
    t_um = thickness_um + wedge_um * (xc / w - 0.5)
    phase = rng.uniform(0, 2 * np.pi)
    wave = wave_um / px * np.sin(2 * np.pi * xc * px / wave_period_um + phase)
    mid0 = rng.uniform(0.42, 0.5) * h
    mid = mid0 + (xc - w / 2) * slope + wave
    # Thickness normal to a film whose mid-line has the local angle of ``mid``.
    angle = np.arctan(np.gradient(mid) + 0.0)
    vert = t_um / px / np.cos(angle)
    top = mid - vert / 2
    # The surface alone undulates (drying marks) and holds dents.
    top = top + 0.5 * wave_um / px * np.sin(2 * np.pi * xc * px / (0.37 * wave_period_um) + 1.0)
    for _ in range(dents):
        cx, width = rng.uniform(0.1, 0.9) * w, rng.uniform(8.0, 20.0) / px
        depth = rng.uniform(0.1, 0.25) * t_um.mean() / px
        top = top + depth * np.exp(-0.5 * ((xc - cx) / width) ** 2)
    bottom = mid + vert / 2
    sub_top = bottom.copy()
    delaminated = np.zeros(xc.size, bool)
    if delamination:
        span = rng.uniform(0.15, 0.3) * w
        start = rng.uniform(0.05, 0.95 - span / w) * w
        u = np.clip((xc - start) / span, 0.0, 1.0)
        gap = rng.uniform(1.5, 4.0) / px * np.sin(np.pi * u) ** 2
        # The film lifts off: its lower surface rises, the substrate stays.
        bottom = bottom - gap
        delaminated = gap > 1.0
    inner = slice(margin, margin + w)
    thickness_px = normal_distance(top, bottom, margin)[inner]
    xc, top, bottom, sub_top, delaminated = (
        xc[inner],
        top[inner],
        bottom[inner],
        sub_top[inner],
        delaminated[inner],
    )
    rows = np.arange(h, dtype=np.float64)[:, None] + 0.0
    # Exact fractional coverage of each pixel (row i spans [i, i + 1)) by each layer.
    f_top = np.clip(top[None, :] - rows, 0.0, 1.0)
    f_film = np.clip(np.minimum(rows + 1.0, bottom[None, :]) - np.maximum(rows, top[None, :]), 0, 1)
    f_sub = np.clip(rows + 1.0 - sub_top[None, :], 0.0, 1.0)
    f_gap = np.clip(1.0 - f_top - f_film - f_sub, 0.0, 1.0)

    resin = 0.03 if vacuum else rng.uniform(0.12, 0.2)
    polymer = rng.uniform(0.34, 0.42)
    filler = rng.uniform(0.68, 0.82)
    above = np.full((h, w), resin, np.float32)
    if not vacuum:
        above += np.float32(0.02) * cv2.GaussianBlur(
            rng.standard_normal((h, w)).astype(np.float32), (0, 0), 3.0
        )
    # Charging halo: the resin glows above the film over a few micrometres.
    dist_above = np.clip(top[None, :] - rows, 0.0, None)
    above += np.float32(halo) * np.exp(-dist_above * px / 4.0).astype(np.float32)

    film = np.full((h, w), polymer, np.float32)
    grains = np.zeros((h, w), np.float32)
    area = 0.0
    target = filler_fraction * float(np.sum(bottom - top))
    while area < target:
        r = float(np.exp(rng.normal(np.log(0.5 / px), 0.4)))
        x = rng.uniform(0, w)
        col = min(int(x), w - 1)
        y = rng.uniform(top[col], bottom[col])
        axes = (max(1, round(r * _K)), max(1, round(r * rng.uniform(0.6, 1.0) * _K)))
        cv2.ellipse(
            grains,
            (round(x * _K), round(y * _K)),
            axes,
            rng.uniform(0, 180),
            0,
            360,
            1.0,
            -1,
            cv2.LINE_AA,
            _SUB,
        )
        area += math.pi * r * r * 0.8
    film += np.float32(filler - polymer) * np.clip(grains, 0, 1)
    # Edge brightening: secondary electrons escape near the surface.
    depth_in = np.clip(rows - top[None, :], 0.0, None)
    film += np.float32(edge_glow) * np.exp(-depth_in * px / 0.6).astype(np.float32)

    void_draw = np.zeros((h, w), np.float32)
    for _ in range(voids):
        r = rng.uniform(0.8, 2.5) / px
        x = rng.uniform(0.05, 0.95) * w
        col = min(int(x), w - 1)
        lo, hi = top[col] + r + 4, bottom[col] - r - 4
        if hi <= lo:
            continue
        y = rng.uniform(lo, hi)
        cv2.ellipse(
            void_draw,
            (round(x * _K), round(y * _K)),
            (round(r * _K), round(r * rng.uniform(0.5, 0.9) * _K)),
            rng.uniform(-20, 20),
            0,
            360,
            1.0,
            -1,
            cv2.LINE_AA,
            _SUB,
        )
    void_draw = np.clip(void_draw, 0, 1)
    film = film * (1 - void_draw) + np.float32(resin * 0.7) * void_draw

    if substrate == "foil":
        sub_level = rng.uniform(0.78, 0.9)
        stria = cv2.GaussianBlur(
            rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=12.0, sigmaY=0.7
        )
        sub = sub_level + np.float32(0.03) * stria / max(float(stria.std()), 1e-6)
    elif substrate == "glass":
        sub_level = rng.uniform(0.55, 0.62)
        depth_sub = np.clip(rows - sub_top[None, :], 0.0, None)
        sub = sub_level + 0.08 * np.exp(-depth_sub * px / 3.0)
    else:
        raise ValueError(f"substrate must be 'foil' or 'glass', got {substrate!r}")
    sub = np.asarray(sub, np.float32)

    clean = (above * f_top + film * f_film + sub * f_sub + resin * 0.7 * f_gap).astype(np.float32)
    if curtaining:
        curtain = _smooth_noise(rng, w, 1.2).astype(np.float32)
        below_surface = np.clip((rows - top[None, :]) * px / 2.0, 0.0, 1.0).astype(np.float32)
        clean += np.float32(curtaining) * curtain[None, :] * below_surface
    image = _acquire(clean, rng, blur_px=blur_px, dose=dose, jitter_px=jitter_px, read_noise=0.01)
    fit = np.polyfit(xc, (top + bottom) / 2, 1)
    return Section(
        image=image,
        pixel_size_um=float(px),
        top_px=top,
        bottom_px=bottom,
        thickness_px=thickness_px,
        tilt_deg=float(np.degrees(np.arctan(fit[0]))),
        void_mask=void_draw > 0.5,
        delaminated=delaminated,
    )


# --------------------------------------------------------------------------------------------
# Annotations.


@dataclass(frozen=True)
class Annotated:
    """A micrograph with burned-in annotations and their truth.

    Attributes
    ----------
    image : numpy.ndarray
        (H, W) ``uint8``.
    bar_x_px : int
        First column of the scale bar; it covers ``bar_x_px .. bar_x_px + bar_length_px - 1``.
    bar_length_px : int
        Exact outer length of the bar, end ticks included [px].
    bar_y_px : int
        Row of the bar's centre line [px].
    bar_um : float
        Length the label states [um].
    label : str
    style : str
        One of :data:`STYLES`.
    corner : str
        One of :data:`CORNERS` (``data_bar``: the bar's place inside the band).
    regions : tuple of (int, int, int, int)
        ``(x, y, width, height)`` of each burned-in region (band, box, bar with its label).
    """

    image: np.ndarray = field(repr=False)
    bar_x_px: int
    bar_length_px: int
    bar_y_px: int
    bar_um: float
    label: str
    style: str
    corner: str
    regions: tuple[tuple[int, int, int, int], ...]

    @property
    def pixel_size_um(self) -> float:
        """Pixel size the bar states [um / px]."""
        return self.bar_um / self.bar_length_px

    def mask(self) -> np.ndarray:
        """(H, W) bool, the burned-in regions."""
        out = np.zeros(self.image.shape[:2], bool)
        for x, y, w, h in self.regions:
            out[y : y + h, x : x + w] = True
        return out


_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text_size(text: str, scale: float, thick: int) -> tuple[int, int, int]:
    (tw, th), base = cv2.getTextSize(text.replace("µ", "u"), _FONT, scale, thick)
    return tw, th, base


def put_label(
    img: np.ndarray, text: str, origin: tuple[int, int], scale: float, value: int, thick: int
) -> None:
    """``cv2.putText`` with a micro sign: Hershey fonts have no ``µ``, so a ``u`` is drawn and
    given the descender on its left stem."""
    cv2.putText(img, text.replace("µ", "u"), origin, _FONT, scale, value, thick, cv2.LINE_AA)
    if "µ" not in text:
        return
    prefix = text[: text.index("µ")]
    x0 = origin[0] + cv2.getTextSize(prefix, _FONT, scale, thick)[0][0]
    uw, uh = cv2.getTextSize("u", _FONT, scale, thick)[0]
    stem = x0 + max(1, round(0.18 * uw))
    cv2.line(img, (stem, origin[1] - uh), (stem, origin[1] + uh // 2), value, thick)


def _bar(
    img: np.ndarray, x0: int, y: int, length: int, value: int, thick: int, tick: int
) -> tuple[int, int]:
    """A bar covering columns ``x0 .. x0 + length - 1`` and ``thick`` rows centred on ``y``,
    with end ticks ``tick`` rows tall when ``tick > 0``. Returns its top and bottom rows."""
    top, bottom = y - thick // 2, y - thick // 2 + thick - 1
    cv2.rectangle(img, (x0, top), (x0 + length - 1, bottom), value, -1)
    if tick > 0:
        tw = max(2, thick)
        for xe in (x0, x0 + length - tw):
            cv2.rectangle(img, (xe, y - tick // 2), (xe + tw - 1, y + tick // 2), value, -1)
        return y - tick // 2, y + tick // 2
    return top, bottom


def bar_label(value: float, unit: str, spaced: bool = True) -> str:
    """The label an SEM program prints, e.g. ``50 µm``, ``100µm``, ``2 mm``."""
    number = f"{value:g}"
    return f"{number} {unit}" if spaced else f"{number}{unit}"


def annotate(
    image: np.ndarray,
    *,
    style: str,
    bar_um: float,
    pixel_size_um: float,
    unit: str = "µm",
    spaced: bool = True,
    corner: str = "bottom_right",
    label_above: bool = True,
    ticks: bool = False,
    seed: int = 0,
) -> Annotated:
    """Burn a scale bar (and for ``data_bar`` an SEM data band) into a copy of ``image``.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W) ``uint8``.
    style : str
        ``data_bar``: a black band across the bottom with white HV / WD / mag / detector / date
        fields and the white bar with its label inside; ``box_black`` / ``box_white``: a filled
        box in ``corner`` holding a white / black bar and its label; ``bare_white`` /
        ``bare_black``: bar and label straight over the content.
    bar_um : float
        Length the label states, in um (``unit`` only changes the spelling).
    pixel_size_um : float
        The image's pixel size: the bar is ``round(bar_um / pixel_size_um)`` px long.
    unit : {"µm", "um", "mm", "nm"}
    spaced : bool
        ``"50 µm"`` or ``"50µm"``.
    corner : str
        One of :data:`CORNERS`.
    label_above : bool
        Label above or below the bar.
    ticks : bool
        End ticks on the bar.
    seed : int
        Chooses the data band's texts.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {CORNERS}, got {corner!r}")
    rng = np.random.default_rng(seed)
    out = image.copy()
    h, w = out.shape[:2]
    length = round(bar_um / pixel_size_um)
    label = bar_label(round(bar_um / LABEL_UNITS_UM[unit], 6), unit, spaced)
    scale = max(0.4, w / 1400.0)
    thick_text = max(1, round(scale * 2))
    tw, th, base = _text_size(label, scale, thick_text)
    bar_thick = max(3, round(h / 160))
    tick = 3 * bar_thick if ticks else 0
    pad = max(4, th // 2)
    regions: list[tuple[int, int, int, int]] = []
    if style == "data_bar":
        band = max(4 * th, round(0.09 * h))
        y0 = h - band
        out[y0:, :] = 0
        regions.append((0, y0, w, band))
        fields = [
            f"HV {rng.choice([2.0, 5.0, 10.0, 15.0]):.2f} kV",
            f"WD {rng.uniform(4, 12):.1f} mm",
            f"mag {int(rng.choice([500, 1000, 2500, 5000]))} x",
            str(rng.choice(["ETD", "TLD", "InLens", "SE2", "BSE"])),
            f"{int(rng.integers(2019, 2026))}-{int(rng.integers(1, 13)):02d}-"
            f"{int(rng.integers(1, 29)):02d}",
        ]
        x = pad
        for text in fields:
            if x + _text_size(text, scale, thick_text)[0] > w - length - 4 * pad:
                break
            put_label(out, text, (x, y0 + band // 2 + th // 2), scale, 255, thick_text)
            x += _text_size(text, scale, thick_text)[0] + 3 * pad
        bx = w - length - 2 * pad if corner.endswith("right") else x + pad
        bx = min(max(bx, x + pad), w - length - pad)
        by = y0 + band - max(bar_thick, tick) - pad
        put_label(
            out,
            label,
            (bx + (length - tw) // 2, by - max(bar_thick, tick) - pad),
            scale,
            255,
            thick_text,
        )
        _bar(out, bx, by, length, 255, bar_thick, tick)
        return Annotated(out, bx, length, by, float(bar_um), label, style, corner, tuple(regions))

    fg = 255 if style in ("box_black", "bare_white") else 0
    box_w = max(length, tw) + 2 * pad
    box_h = th + base + max(bar_thick, tick) + 3 * pad
    margin = max(6, w // 60)
    bx0 = margin if corner.endswith("left") else w - box_w - margin
    by0 = margin if corner.startswith("top") else h - box_h - margin
    if style.startswith("box"):
        cv2.rectangle(out, (bx0, by0), (bx0 + box_w - 1, by0 + box_h - 1), 255 - fg, -1)
    x_bar = bx0 + (box_w - length) // 2
    half = max(bar_thick, tick) // 2 + 1
    if label_above:
        text_y = by0 + pad + th
        y_bar = text_y + base + pad + half
    else:
        y_bar = by0 + pad + half
        text_y = y_bar + half + pad + th
    put_label(out, label, (bx0 + (box_w - tw) // 2, text_y), scale, fg, thick_text)
    _bar(out, x_bar, y_bar, length, fg, bar_thick, tick)
    if style.startswith("box"):
        regions.append((bx0, by0, box_w, box_h))
    else:
        # A bare bar covers only its ink: the bar, its ticks and its label.
        ink = (out != image).astype(np.uint8)
        regions.append(cv2.boundingRect(ink))
    return Annotated(out, x_bar, length, y_bar, float(bar_um), label, style, corner, tuple(regions))


def varied_section(seed: int, pixel_size_um: float) -> tuple[Section, Annotated]:
    """Annotated cross section ``seed`` of a varied set, with its truth.

    Parameters
    ----------
    seed : int
        Draws the section and its annotation; seeds 0 .. n - 1 make the set.
    pixel_size_um : float
        Pixel size, um.

    Returns
    -------
    tuple of (Section, Annotated)
        The section as drawn (truth) and the image with its scale bar burned in.

    Notes
    -----
    A 400 x 480 px section with thickness uniform in 20-45 um, tilt in +/- 3 deg, wedge in
    +/- 4 um, waviness up to 1.5 um, 0-2 dents, a delamination gap, and vacuum instead of resin
    above, with probability 0.3 each, on foil or glass.  The annotation cycles with the seed:
    the style every seed (every style every 5 seeds), the corner every 5 seeds, the label above
    or below and the unit spelling (``µm`` / ``um``) every other seed, end ticks every third,
    the spacing of the label two seeds on, two off; the bar states 20 or 25 um.  A bare bar is
    drawn where it contrasts: a black one over the substrate (bottom), a white one over the
    resin (top).
    """
    r = np.random.default_rng(seed)
    truth = cross_section(
        (400, 480),
        pixel_size_um=pixel_size_um,
        thickness_um=float(r.uniform(20, 45)),
        tilt_deg=float(r.uniform(-3, 3)),
        wedge_um=float(r.uniform(-4, 4)),
        wave_um=float(r.uniform(0, 1.5)),
        dents=int(r.integers(0, 3)),
        delamination=bool(r.random() < 0.3),
        substrate=str(r.choice(["foil", "glass"])),
        vacuum=bool(r.random() < 0.3),
        seed=seed,
    )
    style = STYLES[seed % len(STYLES)]
    corner = CORNERS[(seed // len(STYLES)) % len(CORNERS)]
    if style == "bare_black":
        corner = "bottom_" + corner.split("_")[1]
    elif style == "bare_white":
        corner = "top_" + corner.split("_")[1]
    drawn = annotate(
        truth.image,
        style=style,
        bar_um=float(r.choice([20.0, 25.0])),
        pixel_size_um=pixel_size_um,
        corner=corner,
        label_above=bool(seed % 2),
        ticks=bool(seed % 3 == 0),
        unit=("µm", "um")[seed % 2],
        spaced=bool(seed % 4 < 2),
        seed=seed,
    )
    return truth, drawn


# --------------------------------------------------------------------------------------------
# Top views.


@dataclass(frozen=True)
class TopView:
    """A realistic top view of filler particles and its truth.

    Attributes
    ----------
    image : numpy.ndarray
        (H, W) ``uint8``.
    labels : numpy.ndarray
        ``int32``; particle ``i`` is label ``i + 1`` (a ring's hole is background; touching
        members of an agglomerate share their overlap along its radical axis).
    group : numpy.ndarray
        (n,) group of each particle: an agglomerate's members share one, every other particle
        has its own.
    kind : tuple of str
        Per particle: ``"primary"``, ``"large"`` (a single convex particle 3-6 x the median
        primary area), ``"member"`` (of an agglomerate) or ``"ring"``.
    """

    image: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    group: np.ndarray = field(repr=False)
    kind: tuple[str, ...] = field(repr=False)

    @property
    def count(self) -> int:
        """Number of particles."""
        return int(self.group.size)

    @property
    def area_fraction(self) -> float:
        """Fraction of the image covered by particles [0-1]."""
        return float(np.count_nonzero(self.labels)) / self.labels.size

    @property
    def n_agglomerates(self) -> int:
        """Groups of two or more particles."""
        return int(np.count_nonzero(np.bincount(self.group) >= 2))


def _convex_shape(rng: np.random.Generator, r: float) -> np.ndarray:
    """Vertices (n, 2) of a convex particle of about radius ``r``: an ellipse or a faceted
    polygon (the convex hull of points on a jittered ellipse)."""
    n = int(rng.integers(6, 11)) if rng.random() < 0.5 else 48
    aspect = rng.uniform(1.0, 1.5)
    rot = rng.uniform(0, np.pi)
    # Evenly spread facets, jittered: clustered angles would cut the ellipse to a segment.
    ang = np.linspace(0, 2 * np.pi, n, False) + rng.uniform(-0.4, 0.4, n) * (n < 48) * np.pi / n
    a, b = r * math.sqrt(aspect), r / math.sqrt(aspect)
    pts = np.stack([a * np.cos(ang), b * np.sin(ang)], 1)
    c, s = math.cos(rot), math.sin(rot)
    pts = pts @ np.array([[c, s], [-s, c]])
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
    # The hull of a few points is smaller than the ellipse: scale to the intended area.
    area = cv2.contourArea(hull)
    return hull * math.sqrt(math.pi * r * r / max(area, 1e-6))


def _fill(labels: np.ndarray, poly: np.ndarray, centre: tuple[float, float], value: int) -> None:
    pts = np.rint((poly + np.asarray(centre)) * _K).astype(np.int32)
    cv2.fillPoly(labels, [pts], value, cv2.LINE_8, _SUB)


def top_view(
    shape: tuple[int, int] = (512, 512),
    *,
    n_primary: int = 60,
    n_large: int = 4,
    n_agglomerates: int = 5,
    members: tuple[int, int] = (2, 6),
    n_rings: int = 0,
    median_diameter_px: float = 18.0,
    sigma_log: float = 0.3,
    neck_overlap: float = 0.12,
    background: float = 0.28,
    particle: float = 0.72,
    texture: float = 0.0,
    grain_px: float = 1.5,
    edge_glow: float = 0.12,
    blur_px: float = 0.8,
    dose: float = 0.0,
    read_noise: float = 0.0,
    seed: int = 0,
) -> TopView:
    """Filler particles on a film surface, seen from above in an SEM.

    Parameters
    ----------
    shape : (int, int)
        Height, width [px].
    n_primary, n_large, n_agglomerates, n_rings : int
        Isolated primaries, single large convex particles (3-6 x the median area),
        agglomerates and ring particles placed (fewer when the image is full).
    members : (int, int)
        Inclusive range of primaries per agglomerate.
    median_diameter_px, sigma_log : float
        Lognormal equivalent diameters of the primaries [px].
    neck_overlap : float
        Members of an agglomerate overlap their neighbour by this fraction of the smaller
        radius (0 = tangent), making a neck; every fourth one is instead 1 px apart.
    background, particle : float
        Grey levels [0-1].
    texture, grain_px : float
        Amplitude [0-1] and size [px] of a granular background (sputter-coat grain).
    edge_glow : float
        Brightening of the particles' rims (SEM edge effect) [0-1].
    blur_px, dose, read_noise : float
        See :func:`cross_section`; ``dose = 0``: no shot noise.
    seed : int

    Notes
    -----
    Isolated particles keep at least half a median diameter from every other particle, so an
    agglomerate (members in contact or 1 px apart) is unambiguous for any gap below that.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    occupied = np.zeros((h, w), np.uint8)
    labels = np.zeros((h, w), np.int32)
    group: list[int] = []
    kind: list[str] = []
    clear = math.ceil(median_diameter_px / 2)
    r_med = median_diameter_px / 2

    def radius() -> float:
        return r_med * float(np.exp(rng.normal(0.0, sigma_log)))

    def window(polys: list[tuple[np.ndarray, tuple[float, float]]]) -> tuple[int, int, int, int]:
        pts = np.concatenate([poly + np.asarray(c) for poly, c in polys])
        x0, y0 = np.floor(pts.min(axis=0)).astype(int) - clear - 1
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + clear + 2
        return x0, y0, x1, y1

    def raster(poly: np.ndarray, c: tuple[float, float], x0: int, y0: int, size: tuple[int, int]):
        out = np.zeros(size, np.uint8)
        _fill(out, poly, (c[0] - x0, c[1] - y0), 1)
        return out

    def try_place(shapes: list[tuple[np.ndarray, tuple[float, float], bool]], what: str) -> bool:
        x0, y0, x1, y1 = window([(p, c) for p, c, _ in shapes])
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            return False
        size = (y1 - y0, x1 - x0)
        trial = np.zeros(size, np.uint8)
        for poly, centre, _ in shapes:
            trial |= raster(poly, centre, x0, y0, size)
        if np.any(trial & occupied[y0:y1, x0:x1]):
            return False
        g = len(set(group))
        crop = labels[y0:y1, x0:x1]
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5
        power = np.full(size, np.inf)
        for poly, centre, ring in shapes:
            mark = raster(poly, centre, x0, y0, size)
            if ring:
                _fill(mark, poly * 0.55, (centre[0] - x0, centre[1] - y0), 0)
            # Overlapping members split their overlap along the radical axis (the power
            # distance d^2 - r^2 with r the equivalent radius): for two discs, the chord through
            # their intersection points, i.e. the line joining the neck's two concavities.
            r2 = cv2.contourArea(poly.astype(np.float32)) / math.pi
            mine = (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 - r2
            take = (mark > 0) & (mine < power)
            crop[take] = len(group) + 1
            power[take] = mine[take]
            group.append(g)
            kind.append(what)
        grown = cv2.dilate(trial, np.ones((2 * clear + 1, 2 * clear + 1), np.uint8))
        occupied[y0:y1, x0:x1] |= grown
        return True

    def random_centre(r: float) -> tuple[float, float]:
        return rng.uniform(r + clear, w - r - clear), rng.uniform(r + clear, h - r - clear)

    def attach(
        parts: list[tuple[np.ndarray, tuple[float, float]]],
        anchor: int,
        poly: np.ndarray,
        direction: float,
        push_px: float,
    ) -> tuple[float, float] | None:
        """Centre of ``poly`` moved from the anchor's centre along ``direction`` until it just
        touches the anchor (bisection on the rasters), then pushed ``push_px`` further in
        (a neck) or out (a gap); None when it would overlap another member."""
        a_poly, (ax, ay) = parts[anchor]
        u = np.array([math.cos(direction), math.sin(direction)])
        far = float(np.ptp(a_poly, axis=0).max() + np.ptp(poly, axis=0).max())
        lo, hi = 0.0, far
        x0, y0, x1, y1 = window([(a_poly, (ax, ay)), (poly, (ax + far * u[0], ay + far * u[1]))])
        x0, y0 = min(x0, int(ax - far) - 2), min(y0, int(ay - far) - 2)
        x1, y1 = max(x1, int(ax + far) + 3), max(y1, int(ay + far) + 3)
        size = (y1 - y0, x1 - x0)
        base = raster(a_poly, (ax, ay), x0, y0, size)
        for _ in range(12):
            d = 0.5 * (lo + hi)
            if np.any(base & raster(poly, (ax + d * u[0], ay + d * u[1]), x0, y0, size)):
                lo = d
            else:
                hi = d
        d = hi - push_px
        c = (ax + d * u[0], ay + d * u[1])
        mine = raster(poly, c, x0, y0, size)
        for j, (p, pc) in enumerate(parts):
            if j != anchor and np.any(mine & raster(p, pc, x0, y0, size)):
                return None
        return c

    for _ in range(n_agglomerates):
        for _attempt in range(30):
            k = int(rng.integers(members[0], members[1] + 1))
            r0 = radius()
            parts = [(_convex_shape(rng, r0), random_centre(4 * r0))]
            for _ in range(20 * k):
                if len(parts) == k:
                    break
                poly = _convex_shape(rng, radius())
                # Every fourth member is 1 px away from its anchor, the others form a neck.
                push = (
                    -1.0
                    if len(parts) % 4 == 3
                    else neck_overlap
                    * math.sqrt(
                        min(
                            cv2.contourArea(poly.astype(np.float32)),
                            cv2.contourArea(parts[0][0].astype(np.float32)),
                        )
                        / math.pi
                    )
                )
                c = attach(
                    parts, int(rng.integers(len(parts))), poly, rng.uniform(0, 2 * np.pi), push
                )
                if c is not None:
                    parts.append((poly, c))
            if len(parts) >= 2 and try_place([(p, c, False) for p, c in parts], "member"):
                break
    for _ in range(n_large):
        for _attempt in range(30):
            r = r_med * math.sqrt(rng.uniform(3.0, 6.0))
            if try_place([(_convex_shape(rng, r), random_centre(r), False)], "large"):
                break
    for _ in range(n_rings):
        for _attempt in range(30):
            r = r_med * rng.uniform(1.8, 2.5)
            ang = np.linspace(0, 2 * np.pi, 64, False)
            circle = np.stack([r * np.cos(ang), r * np.sin(ang)], 1)
            if try_place([(circle, random_centre(r), True)], "ring"):
                break
    for _ in range(n_primary):
        for _attempt in range(10):
            r = radius()
            if try_place([(_convex_shape(rng, r), random_centre(r), False)], "primary"):
                break

    inside = (labels > 0).astype(np.uint8)
    clean = np.full((h, w), background, np.float32)
    if texture:
        grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), grain_px)
        clean += np.float32(texture) * grain / max(float(grain.std()), 1e-6)
    rim = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    body = particle + edge_glow * np.exp(-rim / 2.0)
    clean = np.where(inside > 0, body.astype(np.float32), clean)
    image = _acquire(clean, rng, blur_px=blur_px, dose=dose, jitter_px=0.0, read_noise=read_noise)
    return TopView(image, labels, np.asarray(group, np.int64), tuple(kind))
