"""Pixel size from the metadata SEM programs write into their TIFF files.

Pure decoding: the tag values come from :func:`vision.decode.read_tiff_tags` (bytes in memory),
never from a file.

Handled
-------
Thermo Fisher / FEI (Helios, Quanta, Nova, ...)
    TIFF tag 34682 (``FEI_HELIOS``) holds INI text; ``PixelWidth`` in its ``[Scan]`` section
    is the pixel's width in metres.
Zeiss (SmartSEM)
    TIFF tag 34118 (``CZ_SEM``) holds text lines of ``Name = value unit``; ``Image Pixel Size``
    is the pixel size with its unit (pm, nm, um or mm).

Older FEI XL files (tag 34680, ``[DatabarData]``) state the magnification but no pixel size,
which depends on the instrument's calibration; they are not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

FEI_TAG = 34682
ZEISS_TAG = 34118

_UNIT_UM = {"pm": 1e-6, "nm": 1e-3, "um": 1.0, "µm": 1.0, "\u03bcm": 1.0, "mm": 1e3}
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


@dataclass(frozen=True)
class PixelSize:
    """A pixel size [um / px] and where it came from (a sentence for the report)."""

    pixel_size_um: float
    source: str


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1", errors="replace")
    if isinstance(value, (tuple, list)):
        return "".join(_text(v) for v in value)
    return str(value)


def fei_pixel_width_um(text: str) -> float | None:
    """``[Scan] PixelWidth`` (metres) of FEI INI metadata, in um; None when absent or not a
    positive number."""
    section = ""
    for raw in text.splitlines():
        line = raw.strip().strip("\x00")
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == "Scan" and "=" in line:
            key, _, value = line.partition("=")
            if key.strip() == "PixelWidth":
                match = re.fullmatch(_NUMBER, value.strip())
                metres = float(match.group(1)) if match else 0.0
                return metres * 1e6 if metres > 0 else None
    return None


def zeiss_pixel_size_um(text: str) -> float | None:
    """``Image Pixel Size = value unit`` of Zeiss CZ_SEM metadata, in um; None when absent."""
    match = re.search(r"Image Pixel Size\s*=\s*" + _NUMBER + r"\s*(pm|nm|um|µm|\u03bcm|mm)", text)
    if not match:
        return None
    value = float(match.group(1)) * _UNIT_UM[match.group(2)]
    return value if value > 0 else None


def pixel_size_from_tags(tags: Mapping[int, object]) -> PixelSize | None:
    """The pixel size an SEM TIFF's tags state, or None.

    Parameters
    ----------
    tags : mapping
        TIFF tag number -> value (text or bytes), as :func:`vision.decode.read_tiff_tags`.
    """
    if FEI_TAG in tags:
        value = fei_pixel_width_um(_text(tags[FEI_TAG]))
        if value is not None:
            return PixelSize(value, "TIFF tag 34682 (Thermo Fisher / FEI), [Scan] PixelWidth")
    if ZEISS_TAG in tags:
        value = zeiss_pixel_size_um(_text(tags[ZEISS_TAG]))
        if value is not None:
            return PixelSize(value, "TIFF tag 34118 (Zeiss CZ_SEM), Image Pixel Size")
    return None
