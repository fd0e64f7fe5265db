"""Run-rule codes, the window each pattern spans and their meaning: plain data, no logic.

Kept apart from :mod:`spc.rules` so that the chart types (:mod:`spc.charts`) can expand a
signal into its window without importing the rule detectors, which import the chart types.

References
----------
.. [1] Western Electric Company, *Statistical Quality Control Handbook*, 1956, pp. 25-28.
.. [2] L. S. Nelson, "The Shewhart control chart - tests for special causes",
   *J. Quality Technology* 16(4), 1984, pp. 237-239.
"""

from __future__ import annotations

#: Number of consecutive points each rule's pattern spans.
RULE_WINDOWS: dict[str, int] = {
    "nelson1": 1,
    "nelson2": 9,
    "nelson3": 6,
    "nelson4": 14,
    "nelson5": 3,
    "nelson6": 5,
    "nelson7": 15,
    "nelson8": 8,
    "we1": 1,
    "we2": 3,
    "we3": 5,
    "we4": 8,
}

#: One-line meaning of each rule, for reports.
RULE_DESCRIPTIONS: dict[str, str] = {
    "nelson1": "one point beyond 3 sigma",
    "nelson2": "nine points in a row on one side of the center line",
    "nelson3": "six points in a row steadily increasing or decreasing",
    "nelson4": "fourteen points in a row alternating up and down",
    "nelson5": "two of three points beyond 2 sigma on the same side",
    "nelson6": "four of five points beyond 1 sigma on the same side",
    "nelson7": "fifteen points in a row within 1 sigma",
    "nelson8": "eight points in a row beyond 1 sigma, on both sides of the center line",
    "we1": "one point beyond 3 sigma",
    "we2": "two of three points beyond 2 sigma on the same side",
    "we3": "four of five points beyond 1 sigma on the same side",
    "we4": "eight points in a row on one side of the center line",
}

RULE_SETS: dict[str, tuple[str, ...]] = {
    "nelson": tuple(f"nelson{i}" for i in range(1, 9)),
    "we": tuple(f"we{i}" for i in range(1, 5)),
    "none": (),
}
