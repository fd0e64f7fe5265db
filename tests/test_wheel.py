"""The built wheel is a complete installation: `plantqc demo` runs from it, away from the source.

The wheel is built from a copy of the working tree and installed, without its dependencies, into
a fresh venv whose only other entry on ``sys.path`` is this venv's site-packages (a ``.pth``
line, which does not run the ``.pth`` files there, so the editable finder of the source tree
stays inactive).  What the installed package must carry is read from the source tree itself:
every file of ``plantqc/``, ``spc/``, ``vision/`` and ``examples/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("plantqc", "spc", "vision", "examples", "pyproject.toml", "setup.py", "README.md")
INSTALLED_AS = {
    "plantqc": "plantqc",
    "spc": "spc",
    "vision": "vision",
    "examples": "plantqc/examples",
}
"""Each source folder of the wheel and where its files land in site-packages."""

_LIST_INSTALLED = """
import json, sys
from pathlib import Path
import plantqc
site = Path(plantqc.__file__).parents[1]
files = [p.relative_to(site).as_posix() for p in site.rglob("*")
         if p.is_file() and "__pycache__" not in p.parts]
print(json.dumps({"file": plantqc.__file__, "meta_path": [repr(f) for f in sys.meta_path],
                  "files": files}))
"""


def _source_files() -> set[str]:
    """Every file of the source folders, at the path it must have once installed."""
    found = set()
    for folder, target in INSTALLED_AS.items():
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(f"{target}/{path.relative_to(REPO / folder).as_posix()}")
    return found


def _run(args: list[str], cwd: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel of the working tree; its ``bin`` folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(source)],
        work,
        600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("plantqc-*.whl")
    env = work / "venv"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   work, 60).stdout.strip()  # fmt: skip
    Path(purelib, "plantqc-test-dependencies.pth").write_text(sysconfig.get_path("purelib"))
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q"]
    done = _run([*pip, str(wheel)], work, 300)
    assert done.returncode == 0, done.stderr
    return env / "bin"


def test_the_dockerfile_copies_everything_the_wheel_is_built_from() -> None:
    copied = set()
    for line in (REPO / "deploy" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied |= {Path(source).name for source in line.split()[1:-1]}
    assert set(SOURCES) <= copied


def _installed(installed: Path, cwd: Path) -> dict[str, Any]:
    listed = _run([str(installed / "python"), "-c", _LIST_INSTALLED], cwd, 60)
    assert listed.returncode == 0, listed.stderr
    return dict(json.loads(listed.stdout))


@pytest.mark.slow
def test_installed_package_is_the_wheel_not_the_source_tree(
    installed: Path, tmp_path: Path
) -> None:
    found = _installed(installed, tmp_path)
    assert Path(found["file"]).is_relative_to(installed.parent)
    assert not [f for f in found["meta_path"] if "editable" in f.lower()]


@pytest.mark.slow
def test_the_wheel_carries_every_file_of_the_source_tree(installed: Path, tmp_path: Path) -> None:
    """Modules, migrations, templates, plugin samples and READMEs, the example configs."""
    assert sorted(_source_files() - set(_installed(installed, tmp_path)["files"])) == []


@pytest.fixture(scope="module")
def demo(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """``plantqc demo --seconds 20 --json`` of the installed wheel, run in a folder of its own:
    its figures and that folder."""
    folder = tmp_path_factory.mktemp("elsewhere")
    run = _run(
        [str(installed / "plantqc"), "demo", "--seconds", "20", "--out", "out", "--json"],
        folder,
        600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout[run.stdout.index("{") :]), folder


@pytest.mark.slow
def test_demo_of_the_installed_wheel_stores_every_tag_of_the_example_line(
    demo: tuple[dict[str, Any], Path],
) -> None:
    result, folder = demo
    example = yaml.safe_load((REPO / "examples" / "casting.yaml").read_text())
    scalar = {t["name"] for t in example["lines"][0]["tags"] if t.get("kind", "scalar") == "scalar"}
    assert scalar <= {t["tag"] for t in result["tags"] if t["samples"] > 0}
    assert Path(result["database"].removeprefix("sqlite:///")).is_relative_to(folder)


@pytest.mark.slow
def test_installed_wheel_renders_a_report_from_its_packaged_templates(
    installed: Path, demo: tuple[dict[str, Any], Path]
) -> None:
    result, folder = demo
    lot = result["lots"][0]
    run = _run(
        [str(installed / "plantqc"), "report", "--lot", lot, "--db", result["database"],
         "--config", str(folder / "out" / "casting.yaml"), "--out", "report"],
        folder,
        600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert lot in (folder / "report" / "report.html").read_text()
