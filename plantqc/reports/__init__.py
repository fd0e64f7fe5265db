"""Batch QC reports of a lot or roll: what a quality engineer reviews, signs and releases.

`issue.generate_report` reads the lot's data (`data`), computes the spec table, capability,
charts and disposition with `spc` (`compute`, `content`), renders one self-contained HTML file
(`render`, `svg`, `templates/`) and, on request, its PDF (`pdf`); `sign` adds the reviewer's
and approver's signatures and verifies data hashes; `compare` puts lots side by side.
"""
