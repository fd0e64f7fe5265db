"""Image measurement for filler dispersion, film thickness and surface defects: no database, no network."""

from vision.errors import ImageError

__all__ = ["ImageError"]
