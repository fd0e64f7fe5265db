"""OPC UA engineering units: EUInformation from the UNECE Recommendation 20 common codes.

References
----------
1. OPC Foundation, OPC 10000-8 (Part 8: Data Access), §5.6.3 EUInformation and §5.6.4
   (mapping of UNECE codes to UnitId).
2. UNECE, Recommendation No. 20, Codes for Units of Measure Used in International Trade.
"""

from __future__ import annotations

from asyncua import ua

UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"

# Units the example lines use, by the spelling of the config, to their UNECE common code.
UNECE_CODES: dict[str, str] = {
    "um": "4H",
    "mm": "MMT",
    "m": "MTR",
    "m/min": "2X",
    "degC": "CEL",
    "mL/min": "41",
    "mL/h": "H4",
    "mPa.s": "C7",
    "kV": "KVT",
    "kN": "B47",
    "rpm": "M46",
    "cm": "CMT",
    "%RH": "P1",
    "%": "P1",
}


def unit_id(common_code: str) -> int:
    """UnitId of a UNECE common code: its ASCII bytes as a big-endian integer (Part 8 §5.6.4).

    ``unit_id("CEL") == 4408652`` is the example the specification gives for degree Celsius.
    """
    if not 1 <= len(common_code) <= 3 or not common_code.isascii():
        raise ValueError(f"UNECE common code {common_code!r} must be 1 to 3 ASCII characters")
    value = 0
    for char in common_code:
        value = (value << 8) | ord(char)
    return value


def eu_information(unit: str) -> ua.EUInformation:
    """The EUInformation of a unit; a unit without a UNECE code gets UnitId -1 (Part 8 §5.6.3)."""
    code = UNECE_CODES.get(unit)
    return ua.EUInformation(
        NamespaceUri=UNECE_NAMESPACE,
        UnitId=unit_id(code) if code is not None else -1,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )
