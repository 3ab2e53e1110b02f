"""prices.toml validity and the arithmetic from usage to money (exact, unknown stays unknown)."""

from __future__ import annotations

import sys
from datetime import date

import pytest

from edgeroute.chat import Usage
from edgeroute.config import Settings
from edgeroute.ledger import PriceBook, load_price_table
from edgeroute.ledger.prices import (
    LOCAL_PRICE,
    LongContextPrice,
    Price,
    cost_nano,
    energy_nano,
    parse_price_table,
    read_price_file,
    validate_price_table,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def settings(**data: object) -> Settings:
    return Settings(**data)  # type: ignore[arg-type]


CLOUD = [
    {"name": "gpt", "provider": "openai", "model": "gpt-5.4"},
    {"name": "cheap", "provider": "openai", "model": "gpt-5.4-mini", "tier": "cheap"},
    {"name": "custom", "provider": "openai", "model": "my-finetune", "price_in": 1.0, "price_out": 4.0},
    {"name": "mystery", "provider": "openai", "model": "no-such-model"},
    {"name": "half", "provider": "openai", "model": "no-such-model-2", "price_in": 1.0},
]


def test_shipped_price_file_is_valid_and_every_entry_is_dated() -> None:
    data = tomllib.loads(read_price_file())
    assert validate_price_table(data) == []
    providers = {m["provider"] for m in data["model"]}
    assert {"openai", "anthropic", "google", "deepseek", "mistral", "groq"} <= providers
    for entry in data["model"]:
        assert isinstance(entry["checked"], date) and entry["checked"] <= date.today(), entry["id"]
        assert entry["source"].startswith("https://"), entry["id"]
        for key in ("input", "output", "cached_input"):
            if key in entry:
                assert entry[key] >= 0, (entry["id"], key)
        if "cached_input" in entry:
            assert entry["cached_input"] <= entry["input"], entry["id"]
        assert entry["output"] >= entry["input"], entry["id"]
    assert len(load_price_table()) >= 30


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[model]]\nid="a"\nprovider="p"\ninput=1\noutput=2\n', "checked must be a date"),
        (
            '[[model]]\nid="a"\nprovider="p"\ninput=-1\noutput=2\nchecked=2026-01-01\n',
            "input must be 0 or more",
        ),
        ('[[model]]\nid="a"\nprovider="p"\noutput=2\nchecked=2026-01-01\n', "input is required"),
        (
            '[[model]]\nid="a"\nprovider="p"\ninput="1"\noutput=2\nchecked=2026-01-01\n',
            "input must be a number",
        ),
        ('[[model]]\nid="a"\nprovider="p"\ninput=1\noutput=2\nchecked=2026-01-01\nimput=3\n', "unknown key"),
        (
            '[[model]]\nid="a"\nprovider="p"\ninput=1\noutput=2\nchecked=2026-01-01\n'
            '[[model]]\nid="A"\nprovider="p"\ninput=1\noutput=2\nchecked=2026-01-01\n',
            "listed twice",
        ),
        (
            '[[model]]\nid="a"\nprovider="p"\ninput=1\noutput=2\nchecked=2026-01-01\n'
            "long_context = { threshold = 0, input = 1, output = 2 }\n",
            "threshold must be a positive",
        ),
        ("", "no [[model]] entries"),
    ],
)
def test_invalid_price_tables_are_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_price_table(text)


def test_costs_are_exact_in_nano_dollars() -> None:
    price = Price(input=2.50, output=15.00, cached_input=0.25)
    # 1234 x 2.50 + 567 x 15.00 per 1M tokens = 0.003085 + 0.008505 = $0.01159
    assert cost_nano(price, Usage(1234, 567)) == 11_590_000
    # cached tokens are part of prompt_tokens and billed at the cached rate
    assert cost_nano(price, Usage(1000, 0, cached_tokens=800)) == 200 * 2500 + 800 * 250
    # no cached rate listed: cached tokens pay the input price
    assert cost_nano(Price(1.0, 2.0), Usage(1000, 0, cached_tokens=800)) == 1000 * 1000
    # prices finer than $0.001/1M round once, half to even
    assert cost_nano(Price(0.0375, 0.15), Usage(1, 1)) == 188  # 37.5 + 150 = 187.5 -> 188
    assert cost_nano(Price(0.0025, 0.0), Usage(1, 0)) == 2  # 2.5 -> 2


def test_long_context_tier_bills_the_whole_request_above_the_threshold() -> None:
    price = Price(2.0, 12.0, 0.2, long_context=LongContextPrice(200_000, 4.0, 18.0, 0.4))
    assert cost_nano(price, Usage(200_000, 1000)) == 200_000 * 2000 + 1000 * 12000
    assert cost_nano(price, Usage(200_001, 1000)) == 200_001 * 4000 + 1000 * 18000


def test_price_lookup_by_target_id_alias_and_dated_snapshot() -> None:
    book = PriceBook.from_settings(settings(cloud=CLOUD))
    listed = book.price_for("gpt-5.4")
    assert listed is not None and listed.input == 2.50 and listed.output == 15.00 and listed.checked
    assert book.price_for("cloud/gpt") == listed
    assert book.price_for("gpt-5.4-2026-03-05") == listed
    assert book.price_for("claude-sonnet-4-5-20250929") == book.price_for("claude-sonnet-4-5")
    assert book.price_for("CLAUDE-SONNET-4-0") == book.price_for("claude-sonnet-4")
    assert book.price_for("local/gemma3-270m") == LOCAL_PRICE


def test_config_overrides_win_and_unknown_prices_stay_unknown() -> None:
    book = PriceBook.from_settings(settings(cloud=CLOUD))
    custom = book.price_for("cloud/custom")
    assert custom is not None and (custom.input, custom.output, custom.source) == (1.0, 4.0, "config")
    assert book.price_for("cloud/mystery") is None  # not in prices.toml, no override
    assert book.price_for("cloud/half") is None  # an input price alone is not a price
    assert book.price_for("cloud/not-configured") is None
    assert book.price_for("some-new-model") is None
    assert book.cost("cloud/mystery", Usage(100, 100)) is None  # never a silent $0
    assert book.estimate("cloud/mystery", 100, 100) is None


def test_reference_defaults_to_the_premium_model_and_can_be_configured() -> None:
    assert PriceBook.from_settings(settings(cloud=CLOUD)).reference == "cloud/gpt"
    configured = settings(cloud=CLOUD, savings={"reference": "cloud/custom"})
    assert PriceBook.from_settings(configured).reference == "cloud/custom"
    assert PriceBook.from_settings(settings()).reference is None


def test_accounting_for_local_cloud_fallback_error_and_unknown() -> None:
    book = PriceBook.from_settings(settings(cloud=CLOUD))
    usage = Usage(1000, 200)
    # reference gpt-5.4: 1000 x 2.50 + 200 x 15.00 per 1M = $0.0055
    local = book.account(tier="local", served_model="local/gemma3-270m", usage=usage, seconds=3.0)
    assert (local.cost_usd, local.counterfactual_usd, local.saved_usd) == (0.0, 0.0055, 0.0055)
    same = book.account(tier="cloud", served_model="cloud/gpt", usage=usage)
    assert (same.cost_usd, same.counterfactual_usd, same.saved_usd) == (0.0055, 0.0055, 0.0)
    # gpt-5.4-mini: 1000 x 0.75 + 200 x 4.50 = $0.00165; saved $0.00385
    cheap = book.account(tier="cloud", served_model="cloud/cheap", usage=usage)
    assert (cheap.cost_usd, cheap.saved_usd) == (0.00165, 0.00385)
    unknown = book.account(tier="cloud", served_model="cloud/mystery", usage=usage)
    assert (unknown.cost_usd, unknown.counterfactual_usd, unknown.saved_usd) == (None, 0.0055, None)
    failed = book.account(tier=None, served_model=None, usage=Usage(0, 0))
    assert (failed.cost_usd, failed.counterfactual_usd, failed.saved_usd) == (0.0, 0.0, 0.0)
    no_reference = PriceBook.from_settings(settings()).account(
        tier="local", served_model="local/x", usage=usage
    )
    assert (no_reference.cost_usd, no_reference.counterfactual_usd, no_reference.saved_usd) == (
        0.0,
        None,
        None,
    )


def test_local_energy_estimate() -> None:
    # 30 W for 120 s = 1 Wh = 0.001 kWh; at $0.30/kWh = $0.0003
    assert energy_nano(30.0, 120.0, 0.30) == 300_000
    book = PriceBook.from_settings(settings(cloud=CLOUD, savings={"local_watts": 30.0, "usd_per_kwh": 0.30}))
    acct = book.account(tier="local", served_model="local/x", usage=Usage(1000, 200), seconds=120.0)
    assert acct.cost_usd == 0.0003 and acct.saved_usd == 0.0052
    assert book.energy_usd(120.0) == 0.0003


def test_estimate_prices_the_prompt_and_the_longest_reply() -> None:
    book = PriceBook.from_settings(settings(cloud=CLOUD))
    assert book.estimate("cloud/gpt", 1000, 1000) == 0.0175  # 0.0025 + 0.015
    assert book.estimate("local/x", 1000, 1000) == 0.0


def test_money_formats_for_headers_and_people() -> None:
    from edgeroute.ledger import format_usd, header_usd, nano_to_usd, usd_to_nano

    assert header_usd(0.00001) == "0.00001" and header_usd(0.0) == "0" and header_usd(None) == "unknown"
    assert header_usd(-0.0002) == "-0.0002" and header_usd(1.5) == "1.5"
    assert format_usd(None) == "unknown" and format_usd(0.5) == "$0.50" and format_usd(0.01025) == "$0.01025"
    assert format_usd(1234.5) == "$1,234.50" and format_usd(-0.2) == "-$0.20"
    assert usd_to_nano(0.1) == 100_000_000 and nano_to_usd(usd_to_nano(0.003085)) == 0.003085
