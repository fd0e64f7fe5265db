"""The sign-off of a report version: which meanings sign it, in which order.

``authored`` (optional) first, then ``reviewed``, then ``approved`` by someone other than the
reviewer (four eyes), then either ``released`` (only a lot whose disposition is release) or
``held`` (a quality hold, whatever the disposition).  Each meaning signs a version once.  The
rules live here, apart from the signing itself (`plantqc.reports.sign`), because the signature
block of the report (`plantqc.reports.render`) shows what is still to sign by the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from plantqc.users.esign import MEANINGS

FINAL = ("released", "held")
"""The meanings that close a sign-off; a version is released or held, not both."""


def refusal(
    code: str, signed: Sequence[Mapping[str, Any]], meaning: str, disposition: str
) -> str | None:
    """Why report ``code``, signed so far by ``signed`` (in order) and of ``disposition``,
    cannot be signed as ``meaning`` next, in one sentence; None when it can."""
    if meaning not in MEANINGS:
        return f"meaning {meaning!r} is not one of {', '.join(MEANINGS)}."
    done = {s["meaning"]: s for s in signed}
    if meaning in done:
        s = done[meaning]
        return (
            f"report {code} is already signed as {meaning} by {s['user']} at {s['at']}; "
            "a signed report is immutable."
        )
    if meaning == "authored" and done:
        return f"report {code} is already signed as {', '.join(done)}; authoring signs first."
    if meaning == "approved" and "reviewed" not in done:
        return f"report {code} has no reviewed signature yet; review comes before approval."
    if meaning in FINAL:
        if "approved" not in done:
            return f"report {code} is not approved yet; it is {meaning} after approval."
        closed = [m for m in FINAL if m in done]
        if closed:
            return f"report {code} is already {closed[0]}; a report is released or held, not both."
        if meaning == "released" and disposition != "release":
            return (
                f"report {code} has disposition {disposition}, not release; "
                "it can be held, not released."
            )
    return None


def still_to_sign(signed: Sequence[Mapping[str, Any]], disposition: str) -> list[str]:
    """The meanings that may still sign a version signed by ``signed``, in order; the final
    step as ``"released or held"`` when both are open, ``authored`` only before anyone signed."""
    done = {s["meaning"] for s in signed}
    pending = [] if done else ["authored"]
    pending += [m for m in ("reviewed", "approved") if m not in done]
    if not done & set(FINAL):
        pending.append("released or held" if disposition == "release" else "held")
    return pending
