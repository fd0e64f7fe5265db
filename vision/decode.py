"""Decoding image files (bytes in memory) into numpy arrays, refusing bad files with one sentence.

Handled: PNG, TIFF, JPEG, BMP (and GIF), 8- or 16-bit, grey, colour or with alpha. The header's
width and height are read before any pixel is decoded, so a decompression bomb is refused without
allocating its pixels.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from vision.errors import ImageError

#: Largest image accepted by default: 16384 x 16384 pixels (twice the 8192 x 8192 requirement).
DEFAULT_MAX_PIXELS = 16384 * 16384

SUPPORTED_FORMATS = frozenset({"PNG", "TIFF", "JPEG", "MPO", "BMP", "GIF"})

_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"


def read_image_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int, str]:
    """Width, height and format from an image file's header, without decoding its pixels.

    Parameters
    ----------
    data : bytes
        The whole file.
    max_pixels : int, default 268435456
        Refuse images with more pixels than this [px].

    Returns
    -------
    width_px, height_px, format : int, int, str

    Raises
    ------
    ImageError
        Empty, not an image, an unsupported format, zero-sized or above ``max_pixels``.
    """
    if max_pixels <= 0:
        raise ImageError(f"max_pixels must be positive, got {max_pixels}.")
    if len(data) == 0:
        raise ImageError("The file is empty (0 bytes).")
    with warnings.catch_warnings():
        # Pillow's own bomb check would warn or raise with its limit; ours is the one that applies.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                width, height, fmt = int(im.width), int(im.height), str(im.format)
        except Image.DecompressionBombError:
            width, height, fmt = _size_beyond_pillow_limit(data)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageError(
                "The file is not an image that can be read (not PNG, TIFF, JPEG or BMP)."
            ) from exc
    if fmt not in SUPPORTED_FORMATS:
        raise ImageError(f"Image format {fmt} is not supported; use PNG, TIFF, JPEG or BMP.")
    if width <= 0 or height <= 0:
        raise ImageError(f"The image has no pixels ({width} x {height}).")
    if width * height > max_pixels:
        raise ImageError(
            f"The image is {width} x {height} pixels, more than the limit of {max_pixels} pixels."
        )
    return width, height, fmt


def _size_beyond_pillow_limit(data: bytes) -> tuple[int, int, str]:
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.width), int(im.height), str(im.format)
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an image file held in memory.

    Parameters
    ----------
    data : bytes
        The whole file: PNG, TIFF, JPEG, BMP or GIF.
    max_pixels : int, default 268435456
        Refuse images with more pixels than this [px], checked on the header before decoding.

    Returns
    -------
    numpy.ndarray
        ``uint8`` or ``uint16``; shape (H, W) for grey, (H, W, 3) RGB or (H, W, 4) RGBA.

    Raises
    ------
    ImageError
        Empty, not an image, truncated or corrupt, unsupported bit depth, or too many pixels.
    """
    width, height, fmt = read_image_size(data, max_pixels)
    if fmt == "JPEG" and not data.rstrip(b"\x00").endswith(_JPEG_END):
        raise ImageError("The JPEG file is truncated (no end-of-image marker).")
    if fmt == "PNG" and not data.endswith(_PNG_END):
        raise ImageError("The PNG file is truncated (no IEND chunk).")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        image = _decode_with_pillow(data)
    elif image.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    if image.shape[:2] != (height, width):
        raise ImageError(
            f"The decoded image is {image.shape[1]} x {image.shape[0]} pixels but its header "
            f"says {width} x {height}; the file is corrupt."
        )
    return as_supported_depth(image)


def _decode_with_pillow(data: bytes) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.mode in ("P", "PA", "1", "CMYK", "YCbCr", "LA"):
                im = im.convert("RGBA" if "transparency" in im.info or "A" in im.mode else "RGB")
            return np.asarray(im)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError("The image file is truncated or corrupt and cannot be decoded.") from exc


def read_tiff_tags(data: bytes) -> dict[int, object]:
    """Tag number -> value of the first image of a TIFF file held in memory (empty for other
    formats or unreadable files); vendor text tags come back as ``str`` or ``bytes``."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "TIFF":
                return {}
            return dict(im.tag_v2)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return {}


def as_supported_depth(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as ``uint8`` or ``uint16``, or refuse a depth that cannot be measured.

    Parameters
    ----------
    image : numpy.ndarray
        Decoded pixels: bool, uint8, uint16 (any layout).

    Raises
    ------
    ImageError
        Other depths (signed, 32-bit, floating point).
    """
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * 255
    if image.dtype in (np.uint8, np.uint16):
        return image
    if image.dtype == np.dtype(">u2"):
        return image.astype(np.uint16)
    raise ImageError(f"Bit depth {image.dtype} is not supported; export the image as 8- or 16-bit.")
