"""Prompt-cache writes cost more than plain input (Anthropic: 1.25x input for a 5-minute cache, 2x for a
1-hour one), reads less; every expected amount is integer nano-dollars worked out by hand here ($P per 1M
tokens = P x 1000 nano-dollars a token)."""

from __future__ import annotations

from edgeroute.chat import Usage
from edgeroute.config import Settings
from edgeroute.ledger import PriceBook
from edgeroute.ledger.prices import LongContextPrice, Price, cost_nano

# 12 plain + 20,000 read + 3,000 written (1,000 of them to a 1-hour cache) prompt tokens, 9 output tokens
USAGE = Usage(23_012, 9, cached_tokens=20_000, cache_write_tokens=3_000, cache_write_1h_tokens=1_000)


def test_writes_are_billed_at_1_25x_input_and_hour_writes_at_2x() -> None:
    price = Price(input=3.0, output=15.0, cached_input=0.3)
    assert cost_nano(price, USAGE) == 12 * 3000 + 20_000 * 300 + 2_000 * 3750 + 1_000 * 6000 + 9 * 15_000


def test_an_explicit_write_price_wins_and_hour_writes_cost_1_6x_it() -> None:
    price = Price(input=3.0, output=15.0, cached_input=0.3, cache_write=4.0)
    assert cost_nano(price, USAGE) == 12 * 3000 + 20_000 * 300 + 2_000 * 4000 + 1_000 * 6400 + 9 * 15_000
    # a proxy that bills writes as plain input
    flat = Price(input=3.0, output=15.0, cached_input=0.3, cache_write=3.0)
    assert cost_nano(flat, USAGE) == 12 * 3000 + 20_000 * 300 + 2_000 * 3000 + 1_000 * 4800 + 9 * 15_000


def test_writes_follow_the_long_context_input_price() -> None:
    price = Price(2.0, 12.0, 0.2, long_context=LongContextPrice(20_000, 4.0, 18.0, 0.4))
    assert cost_nano(price, USAGE) == 12 * 4000 + 20_000 * 400 + 2_000 * 5000 + 1_000 * 8000 + 9 * 18_000


def test_no_writes_cost_what_they_always_did_and_odd_counts_are_clamped() -> None:
    price = Price(input=3.0, output=15.0, cached_input=0.3)
    assert cost_nano(price, Usage(1000, 10, cached_tokens=400)) == 600 * 3000 + 400 * 300 + 10 * 15_000
    # more writes than uncached prompt tokens: only those are writes; 1-hour part capped at the writes
    odd = Usage(1000, 0, cached_tokens=400, cache_write_tokens=900, cache_write_1h_tokens=5000)
    assert cost_nano(price, odd) == 400 * 300 + 600 * 6000


def test_the_config_write_price_reaches_the_book() -> None:
    cloud = [
        {"name": "listed", "provider": "anthropic", "model": "claude-sonnet-5"},
        {"name": "listed-w", "provider": "anthropic", "model": "claude-haiku-5-5", "price_cache_write": 0.2},
        {"name": "own", "provider": "anthropic", "model": "x", "price_in": 3.0, "price_out": 15.0,
         "price_cached_in": 0.3, "price_cache_write": 4.0},
    ]  # fmt: skip
    book = PriceBook.from_settings(Settings(cloud=cloud))  # type: ignore[arg-type]
    listed = book.price_for("cloud/listed")
    assert listed is not None and listed.cache_write is None  # the default: 1.25x its input price
    assert book.cost("cloud/listed", Usage(100, 0, cache_write_tokens=100)) == 100 * 2500 / 1e9
    # only the write price set: the listed prices (and the long-context tier) stay
    haiku = book.price_for("claude-haiku-5-5")
    with_write = book.price_for("cloud/listed-w")
    assert haiku is not None and with_write is not None
    assert (with_write.input, with_write.cached_input, with_write.long_context) == (
        haiku.input,
        haiku.cached_input,
        haiku.long_context,
    )
    assert (with_write.cache_write, with_write.source) == (0.2, "config")
    own = book.price_for("cloud/own")
    assert own is not None and own.cache_write == 4.0
    assert (
        book.cost("cloud/own", USAGE)
        == (12 * 3000 + 20_000 * 300 + 2_000 * 4000 + 1_000 * 6400 + 9 * 15_000) / 1e9
    )


def test_a_configured_write_price_scales_with_the_long_context_input_price() -> None:
    # base input 2, long-context input 4: the configured 2.4 write price is the base tier's, 4.8 above it
    price = Price(2.0, 12.0, 0.2, long_context=LongContextPrice(20_000, 4.0, 18.0, 0.4), cache_write=2.4)
    assert cost_nano(price, USAGE) == 12 * 4000 + 20_000 * 400 + 2_000 * 4800 + 1_000 * 7680 + 9 * 18_000
    below = Usage(3_012, 9, cached_tokens=0, cache_write_tokens=3_000, cache_write_1h_tokens=1_000)
    assert cost_nano(price, below) == 12 * 2000 + 2_000 * 2400 + 1_000 * 3840 + 9 * 12_000
    # a free base tier leaves no ratio to scale by: the configured price stays
    free = Price(0.0, 0.0, long_context=LongContextPrice(10, 1.0, 1.0), cache_write=0.5)
    assert cost_nano(free, Usage(100, 0, cache_write_tokens=100)) == 100 * 500


def test_the_config_write_price_follows_the_listed_long_context_tier() -> None:
    cloud = [{"name": "h", "provider": "anthropic", "model": "claude-haiku-5-5", "price_cache_write": 0.2}]
    book = PriceBook.from_settings(Settings(cloud=cloud))  # type: ignore[arg-type]
    haiku = book.price_for("claude-haiku-5-5")
    assert haiku is not None and haiku.long_context is not None
    ratio = haiku.long_context.input / haiku.input  # 0.50 / 0.10 above 100,000 prompt tokens
    over = Usage(haiku.long_context.threshold + 100, 0, cache_write_tokens=100)
    expected_nano = haiku.long_context.threshold * round(haiku.long_context.input * 1000) + 100 * round(
        200 * ratio
    )
    assert book.cost("cloud/h", over) == expected_nano / 1e9
