"""The streaming charts load no SciPy, pandas or statsmodels; the constants they use instead of
SciPy are exactly the values of their definitions."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import spc
from spc import constants
from spc.profiles import PROFILE_STATISTICS, profile_statistic_arrays, profile_statistics

HEAVY = ("scipy", "pandas", "statsmodels", "pyarrow")

# a fresh interpreter: the streaming evaluators run on one point each (I-MR, X-bar R and S of
# size 5, EWMA, CUSUM), a phase I estimate and one profile scan's statistics, then the
# top-level modules it loaded
STREAMING = """
import json, sys
import numpy as np
from spc import (
    CUSUMParameters, CUSUMStream, EWMAParameters, EWMAStream, IMRStream, ShewhartLimits,
    XbarStream, imr, phase_one, xbar_s,
)
from spc.profiles import profile_statistic_arrays
limits = ShewhartLimits(10.0, 1.0, "given")
for stream in (IMRStream(limits), XbarStream(limits, 5, "r"), XbarStream(limits, 5, "s"),
               EWMAStream(EWMAParameters(10.0, 1.0)), CUSUMStream(CUSUMParameters(10.0, 1.0))):
    for value in (10.0, 11.0, 9.5, 10.2, 10.1, 9.9):
        stream.update(value)
phase_one(imr, np.linspace(9.0, 11.0, 25) % 1.7, rules="none")
phase_one(xbar_s, np.arange(50.0).reshape(10, 5) % 7, rules="none")
profile_statistic_arrays(np.linspace(40.0, 60.0, 50))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_streaming_charts_and_phase_one_import_no_scipy_pandas_or_statsmodels() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STREAMING], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set(json.loads(done.stdout))
    assert "spc" in modules and "numpy" in modules  # it did run the charts
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize("n", constants._EXACT_SIZES)
def test_written_out_d2_d3_c4_are_the_values_of_their_definitions(n: int) -> None:
    # exact ground truth: the integrals and the gamma-function formula evaluated now, to the
    # last few bits: SciPy releases differ there (1.17 moved d3 and c4 by up to 1e-15), which
    # no chart limit can notice
    c4 = float(constants._gamma_c4(np.asarray(float(n))))
    assert math.isclose(constants.d2(n), constants._integrated_d2(n), rel_tol=1e-13)
    assert math.isclose(constants.d3(n), constants._integrated_d3(n), rel_tol=1e-13)
    assert math.isclose(constants.c4(n), c4, rel_tol=1e-13)


def test_d2_d3_c4_beyond_the_written_out_sizes_are_computed() -> None:
    n = constants._EXACT_SIZES.stop
    assert constants.d2(n) == constants._integrated_d2(n)
    assert constants.d3(n) == constants._integrated_d3(n)
    sizes = np.array([2, n, 200])
    assert np.array_equal(constants.c4(sizes), constants._gamma_c4(sizes.astype(float)))


def test_profile_statistic_arrays_are_the_columns_of_profile_statistics() -> None:
    scans = np.random.default_rng(3).normal(50.0, 1.0, (4, 40))
    scans[1, 7] = np.nan
    table = profile_statistics(scans)
    columns = profile_statistic_arrays(scans)
    assert tuple(columns) == PROFILE_STATISTICS == tuple(table.columns)
    for name in PROFILE_STATISTICS:
        assert np.array_equal(columns[name], table[name].to_numpy())


def test_package_names_load_on_first_use_and_list_in_dir() -> None:
    assert spc.IMRStream.__module__ == "spc.streaming"
    assert set(spc.__all__) <= set(dir(spc))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = spc.nothing  # type: ignore[attr-defined]


def test_functions_named_like_their_module_are_the_functions() -> None:
    import spc.cusum  # importing the module must not shadow the function

    assert [spc.capability.__name__, spc.cusum.__name__, spc.ewma.__name__] == [
        "capability",
        "cusum",
        "ewma",
    ]
    assert callable(spc.cusum)
