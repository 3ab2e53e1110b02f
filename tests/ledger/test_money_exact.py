"""The float shortcuts in money.py and prices.py give exactly what the old Decimal code gave.

The reference functions below are the old bodies, copied verbatim; every property compares the outcome
(the value, or the exception type) of the new function with the reference on the same input."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeroute.ledger import money, prices
from edgeroute.ledger.money import header_usd, nano_to_usd, opt_usd_to_nano, usd_to_nano
from edgeroute.ledger.prices import energy_nano

PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- the old Decimal code, verbatim ------------------------------------------------------------------


def ref_dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def ref_round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def ref_energy_nano(watts: float, seconds: float, usd_per_kwh: float) -> int:
    return ref_round(
        ref_dec(watts) * ref_dec(max(0.0, seconds)) * ref_dec(usd_per_kwh) * 1000 / Decimal("3.6")
    )


def ref_usd_to_nano(usd: float | Decimal) -> int:
    value = usd if isinstance(usd, Decimal) else Decimal(repr(float(usd)))
    return int((value * 1_000_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def ref_header_usd(usd: float | None) -> str:
    if usd is None:
        return "unknown"
    text = format(Decimal(repr(float(usd))), "f")
    return "0" if text in ("0", "-0", "0.0", "-0.0") else text


def outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """The value, or the exception type: the new code must fail where (and as) the old one did."""
    try:
        return "value", fn(*args)
    except Exception as exc:  # any difference, whatever its kind, is a failure of the property
        return "raises", type(exc)


def same(new: Callable[..., Any], ref: Callable[..., Any], *args: Any) -> None:
    got, want = outcome(new, *args), outcome(ref, *args)
    assert got == want, (args, got, want)
    if got[0] == "value":
        assert type(got[1]) is type(want[1]), (args, got, want)


# ---- inputs ------------------------------------------------------------------------------------------

EDGE_FLOATS = [0.0, -0.0, 5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, 1e-9, 5e-10, 0.0005, 0.1, 1e4]
# ---- energy_nano -------------------------------------------------------------------------------------

ENERGY_FLOATS = st.one_of(st.floats(0, 1e4), st.sampled_from(EDGE_FLOATS))


@PROPS
@given(ENERGY_FLOATS, st.one_of(st.floats(-10, 1e5), st.sampled_from(EDGE_FLOATS)), ENERGY_FLOATS)
def test_energy_nano_is_the_decimal_result(watts: float, seconds: float, usd_per_kwh: float) -> None:
    same(energy_nano, ref_energy_nano, watts, seconds, usd_per_kwh)


@settings(deadline=None)
@given(
    st.sampled_from([0.0, -0.0, 30.0, math.inf, -math.inf, math.nan]),
    st.sampled_from([0.0, -1.0, 120.0, math.inf, -math.inf, math.nan]),
    st.sampled_from([0.0, 0.3, math.inf, math.nan]),
)
def test_energy_nano_zero_shortcut_keeps_the_decimal_errors(
    watts: float, seconds: float, price: float
) -> None:
    same(energy_nano, ref_energy_nano, watts, seconds, price)


def test_energy_nano_of_the_default_config_needs_no_decimal() -> None:
    with patch.object(prices, "_dec", side_effect=AssertionError("Decimal path taken")):
        assert energy_nano(0.0, 0.2, 0.0) == energy_nano(0.0, 0.2, 0.3) == energy_nano(30.0, 0.0, 0.3) == 0
    assert energy_nano(30.0, 120.0, 0.30) == ref_energy_nano(30.0, 120.0, 0.30) == 300_000


# ---- usd_to_nano / header_usd ------------------------------------------------------------------------

USD = st.one_of(
    st.floats(-1e12, 1e12),
    st.floats(-1e-3, 1e-3),
    st.builds(nano_to_usd, st.integers(-(10**15), 10**15)),
    st.sampled_from([*EDGE_FLOATS, -5e-324, 999_999.9999999999, 1e6, -1e6, 1e16, 1e-4, 1e-5, 0.5e-9, 1.5e-9]),
)


@PROPS
@given(USD)
def test_usd_to_nano_is_the_decimal_result(usd: float) -> None:
    same(usd_to_nano, ref_usd_to_nano, usd)
    same(opt_usd_to_nano, ref_usd_to_nano, usd)


@given(
    st.sampled_from([math.inf, -math.inf, math.nan, 3, -7, True, 10**20, Decimal("0.1"), Decimal("1e-10")])
)
def test_usd_to_nano_odd_inputs_still_take_the_decimal_path(usd: Any) -> None:
    same(usd_to_nano, ref_usd_to_nano, usd)
    assert opt_usd_to_nano(None) is None


@PROPS
@given(st.integers(-(10**15) + 1, 10**15 - 1))
def test_usd_to_nano_round_trips_nano_amounts_without_decimal(nano: int) -> None:
    """Every amount the ledger writes (nano_to_usd of an integer) takes the float shortcut."""
    with patch.object(money, "Decimal", side_effect=AssertionError("Decimal path taken")):
        assert usd_to_nano(nano_to_usd(nano)) == nano


ANY_FLOAT = st.floats(allow_nan=False, allow_infinity=False)


@PROPS
@given(st.one_of(USD, ANY_FLOAT))
def test_header_usd_is_the_decimal_string(usd: float) -> None:
    same(header_usd, ref_header_usd, usd)


@given(
    st.sampled_from([None, math.inf, -math.inf, math.nan, 0, 0.0, -0.0, 5, 1e16, 1e-4, 1e-5, -1e22, 5e-324])
)
def test_header_usd_odd_inputs(usd: Any) -> None:
    same(header_usd, ref_header_usd, usd)


@PROPS
@given(
    st.one_of(st.builds(nano_to_usd, st.integers(-(10**15), 10**15)), ANY_FLOAT).filter(
        lambda usd: 1e-4 <= abs(usd) < 1e16 or usd == 0
    )
)
def test_header_usd_of_plain_amounts_needs_no_decimal(usd: float) -> None:
    """What repr writes without an exponent is the header as it is."""
    want = ref_header_usd(usd)
    with patch.object(money, "Decimal", side_effect=AssertionError("Decimal path taken")):
        assert header_usd(usd) == want
