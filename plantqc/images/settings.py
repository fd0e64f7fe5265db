"""Settings of the image analyses: the plant config's ``images:`` inputs and the metrics each
analysis (`plantqc.images.analysis`) feeds to the charts.

Pydantic only, so that reading a config never imports OpenCV or the vision library.  The
sample section is ``plantqc/images/samples/images.yaml``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from plantqc.charting.names import image_metric_tag
from plantqc.charting.settings import SpcSettings, SpecLimits
from plantqc.schema import Name, SettingsModel

ImageKind = Literal["particles", "thickness", "defects"]

IMAGE_METRICS: dict[str, dict[str, str]] = {
    "particles": {
        "agglomerate_area_fraction": "1",
        "dispersion_index": "1",
        "filler_wt_pct": "wt%",
        "filler_wt_pct_vs_nominal": "wt%",
    },
    "thickness": {"mean_thickness_um": "um", "thickness_std_um": "um"},
    "defects": {"defects_per_m2": "1/m2"},
}
"""Scalar metrics each image analysis feeds to the charts, with their units."""
LOADING_METRICS = frozenset({"filler_wt_pct", "filler_wt_pct_vs_nominal"})
"""Metrics that need the line's product (densities and nominal loading) to be computed."""


class ImageMetricSettings(SettingsModel):
    """Spec and chart settings of one image metric, charted like a tag."""

    spec: SpecLimits | None = None
    spc: SpcSettings | None = None


class ImageInput(SettingsModel):
    """A folder the line's cameras or microscopes write images to."""

    name: Name
    kind: ImageKind
    folder: Path
    line: Name | None = None
    pattern: str = Field(
        r"(?P<lot>[^_]+)_(?P<roll>[^_]+)_.*\.(png|tif|tiff|jpg|jpeg|bmp)$",
        description="regular expression with named groups lot, roll and optionally line and "
        "time (ISO 8601, UTC unless it names an offset)",
    )
    pixel_size_um: float | None = Field(None, gt=0)
    scale_bar_um: float | None = Field(None, gt=0)
    metrics: dict[str, ImageMetricSettings] = Field(default_factory=dict)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}") from exc
        unknown = set(compiled.groupindex) - {"line", "lot", "roll", "time"}
        if unknown:
            raise ValueError(
                f"pattern has named groups {sorted(unknown)}; only line, lot, roll and time "
                "are known"
            )
        return value

    @model_validator(mode="after")
    def _has_scale(self) -> Self:
        if (self.pixel_size_um is None) == (self.scale_bar_um is None):
            raise ValueError("give exactly one of pixel_size_um and scale_bar_um")
        if self.line is None and "line" not in re.compile(self.pattern).groupindex:
            raise ValueError("give line, or a pattern with a named group 'line'")
        known = IMAGE_METRICS[self.kind]
        unknown = sorted(set(self.metrics) - set(known))
        if unknown:
            raise ValueError(
                f"{self.kind} images have no metric {unknown[0]!r}; "
                f"expected one of: {', '.join(known)}"
            )
        longest = max(len(image_metric_tag(self.name, m)) for m in known)
        if longest > 64:
            raise ValueError(
                f"image input name {self.name!r} is too long for its metric tag names "
                f"({longest} > 64 characters)"
            )
        return self
