"""Errors a user can cause: each carries one sentence that says what is wrong and where."""


class UserError(Exception):
    """Bad config, bad file, bad argument or an unreachable server; shown without a traceback."""
