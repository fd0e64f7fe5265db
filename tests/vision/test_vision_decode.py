"""Decoding image files: every supported layout is handled, every bad file is one sentence."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.vision.conftest import encode
from vision import ImageError, decode_image, read_image_size

RNG = np.random.default_rng(0)
GREY8 = RNG.integers(0, 256, (40, 60), dtype=np.uint8)
GREY16 = RNG.integers(0, 65536, (40, 60), dtype=np.uint16)
RGB8 = RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)
RGBA8 = RNG.integers(0, 256, (40, 60, 4), dtype=np.uint8)


@pytest.mark.parametrize(
    ("image", "ext"),
    [
        (GREY8, ".png"),
        (GREY16, ".png"),
        (GREY16, ".tif"),
        (RGB8, ".png"),
        (RGBA8, ".png"),
        (RGB8, ".bmp"),
        (GREY8, ".tif"),
    ],
)
def test_lossless_formats_decode_to_the_same_pixels(image, ext):
    assert np.array_equal(decode_image(encode(image, ext)), image)


def test_jpeg_decodes_to_its_size_and_8_bits():
    out = decode_image(encode(RGB8, ".jpg"))
    assert out.shape == RGB8.shape and out.dtype == np.uint8


def test_palette_gif_decodes_to_rgb():
    buf = io.BytesIO()
    Image.fromarray(RGB8).convert("P").save(buf, format="GIF")
    assert decode_image(buf.getvalue()).shape == (40, 60, 3)


def test_header_size_is_read_without_decoding():
    assert read_image_size(encode(GREY8)) == (60, 40, "PNG")


def test_empty_file_is_refused():
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")


def test_text_file_is_not_an_image():
    with pytest.raises(ImageError, match="not an image"):
        decode_image(b"time,value\n1,2\n")


def test_truncated_png_is_refused():
    data = encode(GREY8)
    with pytest.raises(ImageError, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_truncated_jpeg_is_refused():
    data = encode(RGB8, ".jpg")
    with pytest.raises(ImageError, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_floating_point_tiff_is_an_unsupported_depth():
    buf = io.BytesIO()
    Image.fromarray(GREY8.astype(np.float32)).save(buf, format="TIFF")
    with pytest.raises(ImageError, match="Bit depth float32 is not supported"):
        decode_image(buf.getvalue())


def test_image_above_the_pixel_limit_is_refused():
    with pytest.raises(ImageError, match="more than the limit of 1000 pixels"):
        decode_image(encode(GREY8), max_pixels=1000)


def _png_claiming(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR is rewritten (with a correct CRC) to claim another size."""
    data = bytearray(encode(GREY8))
    ihdr = bytearray(data[12:29])  # type + 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def test_decompression_bomb_is_refused_from_its_header():
    # 100000 x 100000 8-bit would need 10 GB; refusing it must not allocate anything.
    with pytest.raises(ImageError, match="100000 x 100000 pixels, more than the limit"):
        decode_image(_png_claiming(100_000, 100_000))


def test_unsupported_format_is_named():
    buf = io.BytesIO()
    Image.fromarray(GREY8).save(buf, format="PPM")
    with pytest.raises(ImageError, match="PPM is not supported"):
        decode_image(buf.getvalue())
