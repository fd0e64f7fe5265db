"""The one packaging fact pyproject.toml cannot state: a package mapped from another folder.

``examples/`` stays at the repository root, where the README, the tests and deploy/ read it,
and ships inside the wheel as ``plantqc.examples`` (package data, read with
``importlib.resources``), so an installed ``plantqc demo`` finds its plant config.
``[tool.setuptools.packages.find]`` cannot add such a package, hence the list here.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["plantqc*", "spc*", "vision*"]), "plantqc.examples"],
    package_dir={"plantqc.examples": "examples"},
)
