"""Money as integer nano-dollars (1e-9 USD).

Floats cannot add a few thousand request costs and land exactly on the cent a person computes by hand;
integers can. Prices are per 1M tokens, so one token at $0.001/1M is one nano-dollar: every price with up to
three decimals gives an exact integer cost, and anything finer rounds once per request (half a nano-dollar).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANO_PER_USD = 1_000_000_000


def usd_to_nano(usd: float | Decimal) -> int:
    """Dollars to nano-dollars, through the shortest decimal repr so 0.1 stays 100_000_000.

    Runs 3x per ledger row, so a float takes an exact float shortcut when it can prove the answer; the
    rest (and Decimal input) goes through Decimal."""
    if type(usd) is float and -1e6 < usd < 1e6:
        nano = round(usd * 1e9)
        # repr(usd) and nano*1e-9 both round to usd: <= ulp(usd) <= 2**-33 apart, so Decimal gives nano too
        if nano / 1e9 == usd:
            return nano
    value = usd if isinstance(usd, Decimal) else Decimal(repr(float(usd)))
    return int((value * NANO_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def nano_to_usd(nano: int) -> float:
    """Nano-dollars to the nearest float dollar amount (for JSON and headers)."""
    return nano / NANO_PER_USD


def opt_nano_to_usd(nano: int | None) -> float | None:
    return None if nano is None else nano_to_usd(nano)


def opt_usd_to_nano(usd: float | None) -> int | None:
    return None if usd is None else usd_to_nano(usd)


def header_usd(usd: float | None) -> str:
    """The value of ``x-edgeroute-cost-usd`` / ``x-edgeroute-saved-usd``: a plain decimal (no exponent),
    or ``unknown``: the digits of the shortest repr. Runs on every response, so a repr without exponent
    (1e-4 <= |usd| < 1e16, and 0) is used as it is; Decimal writes out the rest (as fast as a Python
    rewrite of the string, measured)."""
    if usd is None:
        return "unknown"
    text = repr(float(usd))
    if "e" not in text and "n" not in text:  # no exponent, not inf/nan: already the plain decimal
        return "0" if text in ("0.0", "-0.0") else text
    text = format(Decimal(text), "f")
    return "0" if text in ("0", "-0", "0.0", "-0.0") else text


def format_usd(usd: float | None, *, unknown: str = "unknown") -> str:
    """``$1.23``, ``$0.50``, ``$0.01025`` or ``$0.000085`` for people (cents, or the digits an amount under
    a dollar needs); ``unknown`` when the price is not known, never a silent ``$0``."""
    if usd is None:
        return unknown
    sign = "-" if usd < 0 else ""
    amount = abs(usd)
    if amount >= 1 or amount == 0:
        return f"{sign}${amount:,.2f}"
    text = f"{amount:.6f}"
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{decimals}"
