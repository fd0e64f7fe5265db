"""Settings of the batch QC reports: the plant config's ``reports:`` section.

Pydantic only, so that reading a config never imports the report code (`spc`, Jinja, the PDF
renderer).  The sample section is ``plantqc/reports/samples/reports.yaml``.
"""

from __future__ import annotations

from pydantic import Field

from plantqc.schema import SettingsModel


class ReportSettings(SettingsModel):
    """Rules of the batch QC report (`plantqc.reports`): disposition and default specs.

    Disposition: a characteristic fails when its lot mean is out of spec or when more than
    ``max_out_of_spec_pct`` percent of its individual values are (default 0: any value out of
    spec fails it, as a certificate of analysis means); a failed characteristic rejects the lot
    (holds it without ``reject_on_spec_fail``).  An unacknowledged alarm in the lot's time
    range (an SPC alarm, a spec breach, a sensor fault: what the tags' ``spc.alarms`` make
    alarms) holds it; an alert (a rule hit that is not an alarm: stored, charted and listed as
    a violation) does not, unless ``hold_on_alerts``.  A Cpk below ``cpk_min`` (from at least
    ``capability_min_n`` values; smaller studies are shown as indicative), missing data or a
    lot that is still open put it on hold; otherwise it is released.  Image metrics without a
    spec of their own (``images[].metrics``) are judged against the recipe: filler wt% within
    ``loading_tolerance_wt_pct`` of the nominal, cross-section thickness within the product's
    tolerance; the CD uniformity (mean 2-sigma of the cross-direction scans) must not exceed
    ``cd_two_sigma_max_um``, by default half the profile tag's spec width.
    """

    cpk_min: float = Field(1.33, gt=0)
    capability_min_n: int = Field(30, ge=3)
    max_out_of_spec_pct: float = Field(0.0, ge=0, lt=100)
    reject_on_spec_fail: bool = True
    hold_on_unacknowledged_alarm: bool = True
    hold_on_alerts: bool = False
    hold_on_low_cpk: bool = True
    hold_on_missing_data: bool = True
    loading_tolerance_wt_pct: float = Field(5.0, gt=0)
    cd_two_sigma_max_um: float | None = Field(None, gt=0)
    evidence_images: int = Field(3, ge=1, le=20)
