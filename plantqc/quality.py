"""OPC UA data quality: status code names and the Good / Uncertain / Bad severity test."""

from __future__ import annotations

from functools import cache

GOOD_BELOW = 0x40000000  # severity bits 00 (Part 4 §7.39): any lower code is Good
_INFO_BITS = 0xFFFF  # limit / overflow / historian bits; they do not change the code's name


def is_good(code: int) -> bool:
    """True when an OPC UA status code's severity is Good."""
    return 0 <= code < GOOD_BELOW


@cache
def status_name(code: int) -> str:
    """The OPC UA name of a status code, e.g. ``Good``, ``BadSensorFailure``."""
    # asyncua only for its table of names: the engine process, which needs the severity bits
    # alone, then never loads the OPC UA stack
    from asyncua.ua.status_codes import get_name_and_doc

    return get_name_and_doc(code & ~_INFO_BITS & 0xFFFFFFFF)[0]
