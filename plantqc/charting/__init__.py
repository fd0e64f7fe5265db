"""Charting: the one place that knows what a chart is, read by the engine, reports and Grafana.

One module per responsibility:

- `settings`: the ``spec:`` / ``spc:`` schema of a tag and `ChartConfig`, a charted tag parsed
  once into typed, frozen settings; `catalog`: which stored tags are charted.
- `names`: series names in the store, in alarm codes and of image-metric tags.
- `subgroups`: how a chart's points are formed (`spc.subgroups` on the chart's settings).
- `limits`: which limits version is in force at a time (one read-only query), and the
  explicit writes of learned (provisional) versions.
- `design`: a chart on one limits version, as a streaming evaluator or over a whole series.
- `faults`: sensor-fault detection and the line's running condition.
- `phase1`: estimating limits from stored or recorded data and freezing them.
- `runner`: the streaming runner (stored samples -> violations, alarms, persisted state;
  charts learn their limits from a baseline until frozen ones exist);
  `hook`: the daemon's hook that drives it.
"""
