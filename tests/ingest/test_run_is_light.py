"""`plantqc run` keeps the edge daemon's process light: no SciPy, pandas, OpenCV or Grafana SDK.

The charts run in the engine's own process and the images in worker processes, so the
daemon's memory holds only what ingestion needs; a plugin's settings module never imports
its plugin, so reading the config does not load them either.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ingest_helpers import write_config

HEAVY = ("scipy", "pandas", "cv2", "vision", "statsmodels", "grafana_foundation_sdk")

# the modules of the process that ran the command, written when it exits
RUN = """
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from plantqc.cli import app
sys.argv = ["plantqc", *sys.argv[2:]]
app()
"""


def _modules_of(args: list[str], out: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(out), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {name.split(".")[0] for name in json.loads(out.read_text())}


def test_the_daemon_process_of_plantqc_run_imports_no_heavy_library(
    tmp_path: Path, port: int
) -> None:
    # the casting example has image inputs, so the image pipeline runs too
    extra = f"\ndaemon:\n  metrics_port: 0\n  buffer_path: {tmp_path / 'buffer.sqlite'}\n"
    loaded = write_config(tmp_path, "casting.yaml", port, extra)
    assert loaded.config.images
    modules = _modules_of(["run", "--config", str(loaded.path), "--duration", "2"], tmp_path / "m")
    assert {"plantqc", "asyncua"} <= modules  # it did run the daemon
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_checking_a_config_imports_no_plugin_library(tmp_path: Path, port: int) -> None:
    loaded = write_config(tmp_path, "casting.yaml", port)
    modules = _modules_of(["config", "check", str(loaded.path)], tmp_path / "m")
    plugins = ("asyncua", "aiomqtt", "sqlalchemy", "numpy", "watchdog", *HEAVY)
    assert modules.isdisjoint(plugins), sorted(modules & set(plugins))
