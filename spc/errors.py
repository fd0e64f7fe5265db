"""The one exception type that `spc` raises for bad input."""


class SPCInputError(ValueError):
    """Input that cannot be charted; the message is one sentence a user can act on."""
