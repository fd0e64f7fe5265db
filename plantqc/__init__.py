"""plantqc: process and quality control for solid-electrolyte film lines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("plantqc")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
