"""Money as integer nano-dollars (1e-9 USD).

Floats cannot add a few thousand request costs and land exactly on the cent a person computes by hand;
integers can. Prices are per 1M tokens, so one token at $0.001/1M is one nano-dollar: every price with up to
three decimals gives an exact integer cost, and anything finer rounds once per request (half a nano-dollar).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANO_PER_USD = 1_000_000_000


def usd_to_nano(usd: float | Decimal) -> int:
    """Dollars to nano-dollars, through the shortest decimal repr so 0.1 stays 100_000_000."""
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
    or ``unknown``."""
    if usd is None:
        return "unknown"
    text = format(Decimal(repr(float(usd))), "f")
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
