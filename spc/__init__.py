"""Statistical process control: pure statistics, arrays or DataFrames in, results out, no I/O."""

from spc.errors import SPCInputError

__all__ = ["SPCInputError"]
