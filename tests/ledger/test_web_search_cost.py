"""Web searches a provider runs for an answer are billed per search on top of the tokens (Anthropic's web
search tool: $10 per 1,000). They are in the row's cost, and in its counterfactual too: any model would
have run them, so they save nothing. Expected amounts in nano-dollars, worked out by hand."""

from __future__ import annotations

from edgeroute.chat import Usage
from edgeroute.config import Settings
from edgeroute.ledger import PriceBook

CLOUD = [
    {"name": "claude", "provider": "anthropic", "model": "x", "price_in": 3.0, "price_out": 15.0},
    {"name": "claude-own", "provider": "anthropic", "model": "x", "price_in": 3.0, "price_out": 15.0,
     "price_web_search": 0.02},
    {"name": "other", "provider": "openai", "model": "y", "price_in": 1.0, "price_out": 2.0},
]  # fmt: skip
TOKENS = 1000 * 3000 + 100 * 15_000  # 1,000 prompt and 100 output tokens at $3 / $15 per 1M


def book() -> PriceBook:
    return PriceBook.from_settings(Settings(cloud=CLOUD, savings={"reference": "cloud/claude"}))  # type: ignore[arg-type]


def test_anthropic_searches_cost_a_cent_each_in_the_cost_and_the_counterfactual() -> None:
    money = book().account(tier="cloud", served_model="cloud/claude", usage=Usage(1000, 100, web_searches=3))
    assert money.cost_usd == (TOKENS + 3 * 10_000_000) / 1e9
    assert money.counterfactual_usd == money.cost_usd and money.saved_usd == 0.0


def test_a_configured_search_price_wins() -> None:
    money = book().account(
        tier="cloud", served_model="cloud/claude-own", usage=Usage(1000, 100, web_searches=2)
    )
    assert money.cost_usd == (TOKENS + 2 * 20_000_000) / 1e9


def test_searches_on_a_model_with_no_known_search_price_make_the_cost_unknown_not_zero() -> None:
    money = book().account(tier="cloud", served_model="cloud/other", usage=Usage(1000, 100, web_searches=1))
    assert money.cost_usd is None and money.saved_usd is None


def test_no_searches_cost_what_they_always_did() -> None:
    money = book().account(tier="cloud", served_model="cloud/claude", usage=Usage(1000, 100))
    assert money.cost_usd == TOKENS / 1e9
