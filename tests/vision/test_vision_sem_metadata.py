"""Pixel size from SEM TIFF metadata: FEI [Scan] PixelWidth and Zeiss CZ_SEM Image Pixel Size.

The texts follow the vendors' layouts (INI sections for FEI/Thermo Fisher tag 34682; ``Name =
value unit`` lines for Zeiss tag 34118); the numbers are exact unit conversions.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from tests.vision.conftest import encode
from vision.decode import read_tiff_tags
from vision.sem_metadata import fei_pixel_width_um, pixel_size_from_tags, zeiss_pixel_size_um

FEI = (
    "[User]\r\nDate=05/03/2024\r\nUserText=\r\n[Beam]\r\nHV=5000\r\n"
    "[Scan]\r\nInternalScan=true\r\nDwelltime=1e-06\r\nPixelWidth=1.5625e-08\r\n"
    "PixelHeight=1.5625e-08\r\n[Stage]\r\nPixelWidth=9\r\n"
)
ZEISS = "\r\n0\r\nAP_WD\r\nWD = 5.1 mm\r\nAP_IMAGE_PIXEL_SIZE\r\nImage Pixel Size = 2.233 nm\r\n"


def _tiff(tag: int, text: str) -> bytes:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[tag] = text
    info.tagtype[tag] = 2  # ASCII
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buf, format="TIFF", tiffinfo=info)
    return buf.getvalue()


def test_fei_pixel_width_is_read_from_the_scan_section_in_metres():
    # 1.5625e-08 m = 0.015625 um; the [Stage] key of the same name is not the pixel width.
    assert fei_pixel_width_um(FEI) == pytest.approx(0.015625)


@pytest.mark.parametrize(
    ("text", "um"),
    [(ZEISS, 0.002233), ("Image Pixel Size = 1.5 um", 1.5), ("Image Pixel Size = 250 pm", 2.5e-4)],
)
def test_zeiss_image_pixel_size_is_read_with_its_unit(text, um):
    assert zeiss_pixel_size_um(text) == pytest.approx(um)


def test_tags_of_a_tiff_in_memory_give_the_pixel_size_and_its_source():
    stated = pixel_size_from_tags(read_tiff_tags(_tiff(34682, FEI)))
    assert stated is not None
    assert (stated.pixel_size_um, stated.source) == (
        pytest.approx(0.015625),
        "TIFF tag 34682 (Thermo Fisher / FEI), [Scan] PixelWidth",
    )
    stated = pixel_size_from_tags(read_tiff_tags(_tiff(34118, ZEISS)))
    assert stated is not None and stated.source.startswith("TIFF tag 34118 (Zeiss CZ_SEM)")


@pytest.mark.parametrize(
    "data", [encode(np.zeros((8, 8), np.uint8)), _tiff(34682, "[Scan]\r\nPixelWidth=0\r\n"), b"x"]
)
def test_files_without_a_usable_pixel_size_give_none(data):
    assert pixel_size_from_tags(read_tiff_tags(data)) is None


def test_the_fib_images_old_fei_tag_states_no_pixel_size(micrographs):
    # FEI XL files carry [DatabarData] with the magnification only (tag 34680).
    data = (micrographs / "jrminter" / "fib620eb.tif").read_bytes()
    assert 34680 in read_tiff_tags(data) and pixel_size_from_tags(read_tiff_tags(data)) is None
