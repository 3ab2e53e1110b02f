"""Prices: the shipped ``models/prices.toml`` (USD per 1M tokens, each entry dated) plus the user's
per-model overrides in the config, and the arithmetic that turns usage into money.

An unknown price is ``None`` all the way to the ledger and the UI ("unknown"), never a silent $0. Local
inference costs $0 unless the user sets ``savings.local_watts`` and ``savings.usd_per_kwh`` (then
watts x seconds x price per kWh). Savings = counterfactual (the same tokens at the reference model's
price) - actual.

Token convention: ``prompt_tokens`` includes ``cached_tokens`` (cache reads) and ``cache_write_tokens``
(cache writes). Reads are billed at ``cached_input`` (at ``input`` when the model lists none). Writes are
billed at the model's cache-write price: the config's ``price_cache_write`` where set, else Anthropic's
rule, 1.25x the input price in force; writes to a 1-hour cache cost 1.6x that (Anthropic: 2x input against
1.25x), so one knob scales both. Only providers that report writes (Anthropic) ever have any, so the rule
costs other models nothing. A model with a ``long_context`` tier bills the whole request at those rates
once the prompt exceeds its threshold; a configured ``price_cache_write`` is the base tier's price, and
above the threshold it scales by the same ratio as the input price (long-context input / base input; a
base input of $0 leaves no ratio, and the configured price stays), as the 1.25x rule follows the tier.
"""

from __future__ import annotations

import functools
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Protocol

from edgeroute.ledger.money import nano_to_usd

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

if TYPE_CHECKING:
    from edgeroute.config import CloudModelConfig, Settings

PRICES_RESOURCE = "prices.toml"
_DATED_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")
_MODEL_KEYS = {"id", "provider", "aliases", "input", "output", "cached_input", "checked", "source", "note"}
_TIER_KEYS = {"threshold", "input", "output", "cached_input"}


class TokenUsage(Protocol):
    """What pricing needs from a usage report (``chat.Usage`` fits)."""

    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def cache_write_1h_tokens(self) -> int: ...
    @property
    def web_searches(self) -> int: ...


@dataclass(frozen=True, slots=True)
class LongContextPrice:
    threshold: int
    input: float
    output: float
    cached_input: float | None = None


ANTHROPIC_WEB_SEARCH_USD = 0.01  # per search: $10 per 1,000 (the web search tool's pricing)
# Anthropic's cache-write prices: 5-minute writes 1.25x input, 1-hour writes 2x input (= 1.6x a 5-minute one).
CACHE_WRITE_FACTOR = Decimal("1.25")
CACHE_WRITE_1H_FACTOR = Decimal("1.6")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens. ``source`` says where it came from: ``prices.toml``, ``config`` or ``local``.
    ``cache_write`` is the price of a token written to a 5-minute prompt cache; None: 1.25x input."""

    input: float
    output: float
    cached_input: float | None = None
    checked: date | None = None
    source: str = "prices.toml"
    long_context: LongContextPrice | None = None
    cache_write: float | None = None


LOCAL_PRICE = Price(0.0, 0.0, 0.0, None, "local")


@dataclass(frozen=True, slots=True)
class Accounting:
    """One request's money: None = unknown (no price), shown as such."""

    cost_usd: float | None
    counterfactual_usd: float | None
    saved_usd: float | None
    reference: str | None


@functools.lru_cache(maxsize=1024)
def _dec(value: float) -> Decimal:
    """A price as the decimal it was written as (``2.5`` -> ``Decimal('2.5')``); prices repeat on every
    request, so the conversion is cached."""
    return Decimal(repr(float(value)))


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def cost_nano(price: Price, usage: TokenUsage) -> int:
    """Exact cost in nano-dollars: a price per 1M tokens is nano-dollars per 1000 tokens."""
    rate_in, rate_out, rate_cached = price.input, price.output, price.cached_input
    long = price.long_context
    in_long_tier = False
    if long is not None and usage.prompt_tokens > long.threshold:
        in_long_tier = True
        rate_in, rate_out, rate_cached = long.input, long.output, long.cached_input
    cached = max(0, min(usage.cached_tokens, usage.prompt_tokens))
    fresh = max(0, usage.prompt_tokens - cached)
    written = usage.cache_write_tokens
    if written > 0:  # only Anthropic upstreams report writes: the common case skips all of this
        written = min(written, fresh)
        fresh -= written
    total = (
        fresh * _dec(rate_in)
        + cached * _dec(rate_cached if rate_cached is not None else rate_in)
        + max(0, usage.completion_tokens) * _dec(rate_out)
    )
    if written > 0:
        if price.cache_write is None:
            rate_write = _dec(rate_in) * CACHE_WRITE_FACTOR
        else:
            rate_write = _dec(price.cache_write)
            if in_long_tier and price.input > 0:  # the configured price is the base tier's: scale it
                rate_write = rate_write * _dec(rate_in) / _dec(price.input)
        hour = max(0, min(usage.cache_write_1h_tokens, written))
        total += (written - hour) * rate_write + hour * rate_write * CACHE_WRITE_1H_FACTOR
    return _round(total * 1000)


def cost_usd(price: Price, usage: TokenUsage) -> float:
    return nano_to_usd(cost_nano(price, usage))


def energy_nano(watts: float, seconds: float, usd_per_kwh: float) -> int:
    """watts x seconds = joules; / 3.6e6 = kWh; x price; in nano-dollars.

    The default config prices no energy and this runs on every local request: a zero factor is $0 at
    once (when all three are finite; inf x 0 stays the Decimal error it always was)."""
    seconds = max(0.0, seconds)
    if (
        (watts == 0 or usd_per_kwh == 0 or seconds == 0)
        and math.isfinite(watts)
        and math.isfinite(seconds)
        and math.isfinite(usd_per_kwh)
    ):
        return 0
    return _round(_dec(watts) * _dec(seconds) * _dec(usd_per_kwh) * 1000 / Decimal("3.6"))


# ---- the shipped table ----------------------------------------------------------------------------


def _check_number(where: str, key: str, value: Any, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{where}: {key} must be a number (USD per 1M tokens)")
    elif value < 0:
        problems.append(f"{where}: {key} must be 0 or more")


def validate_price_table(data: Mapping[str, Any]) -> list[str]:
    """Every problem in a parsed prices.toml, one line each (empty list = valid)."""
    problems: list[str] = []
    models = data.get("model")
    if not isinstance(models, list) or not models:
        return ["prices.toml: no [[model]] entries"]
    seen: set[str] = set()
    for index, entry in enumerate(models):
        where = f"model[{index}] ({entry.get('id', '?') if isinstance(entry, dict) else '?'})"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a table")
            continue
        for key in sorted(set(entry) - _MODEL_KEYS - {"long_context"}):
            problems.append(f"{where}: unknown key {key!r}")
        if not isinstance(entry.get("id"), str) or not entry["id"]:
            problems.append(f"{where}: id is required")
        if not isinstance(entry.get("provider"), str) or not entry["provider"]:
            problems.append(f"{where}: provider is required")
        for key in ("input", "output"):
            if key not in entry:
                problems.append(f"{where}: {key} is required")
            else:
                _check_number(where, key, entry[key], problems)
        if "cached_input" in entry:
            _check_number(where, "cached_input", entry["cached_input"], problems)
        if not isinstance(entry.get("checked"), date):
            problems.append(f"{where}: checked must be a date (checked = 2026-11-22)")
        if not isinstance(entry.get("source", ""), str):
            problems.append(f"{where}: source must be text")
        long = entry.get("long_context")
        if long is not None:
            if not isinstance(long, dict):
                problems.append(f"{where}: long_context must be a table")
            else:
                for key in sorted(set(long) - _TIER_KEYS):
                    problems.append(f"{where}: long_context: unknown key {key!r}")
                threshold = long.get("threshold")
                if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
                    problems.append(f"{where}: long_context.threshold must be a positive token count")
                for key in ("input", "output"):
                    if key not in long:
                        problems.append(f"{where}: long_context.{key} is required")
                    else:
                        _check_number(where, f"long_context.{key}", long[key], problems)
                if "cached_input" in long:
                    _check_number(where, "long_context.cached_input", long["cached_input"], problems)
        names = [entry.get("id"), *entry.get("aliases", [])]
        for name in names:
            if isinstance(name, str):
                if name.lower() in seen:
                    problems.append(f"{where}: {name!r} is listed twice")
                seen.add(name.lower())
    return problems


def parse_price_table(text: str) -> dict[str, Price]:
    """Parse and validate prices.toml; keys are lower-cased model ids and aliases."""
    data = tomllib.loads(text)
    problems = validate_price_table(data)
    if problems:
        raise ValueError("\n".join(problems))
    table: dict[str, Price] = {}
    for entry in data["model"]:
        long = entry.get("long_context")
        price = Price(
            input=float(entry["input"]),
            output=float(entry["output"]),
            cached_input=float(entry["cached_input"]) if "cached_input" in entry else None,
            checked=entry["checked"],
            source="prices.toml",
            long_context=LongContextPrice(
                threshold=int(long["threshold"]),
                input=float(long["input"]),
                output=float(long["output"]),
                cached_input=float(long["cached_input"]) if "cached_input" in long else None,
            )
            if long
            else None,
        )
        for name in [entry["id"], *entry.get("aliases", [])]:
            table[name.lower()] = price
    return table


def read_price_file() -> str:
    from importlib.resources import files

    return files("edgeroute.data").joinpath(PRICES_RESOURCE).read_text(encoding="utf-8")


def load_price_table() -> dict[str, Price]:
    return parse_price_table(read_price_file())


# ---- the book: table + config ----------------------------------------------------------------------


class PriceBook:
    """Answers "what does this target cost" for ``local/x``, ``cloud/x`` (the config, then the table) and
    bare provider model ids (the table)."""

    def __init__(
        self,
        table: Mapping[str, Price],
        *,
        cloud: Sequence[CloudModelConfig] = (),
        reference: str | None = None,
        local_watts: float = 0.0,
        usd_per_kwh: float = 0.0,
    ) -> None:
        self._table = {k.lower(): v for k, v in table.items()}
        self._cloud = {m.name: m for m in cloud}
        self._prices: dict[str, Price | None] = {}  # price_for() per name: the book never changes
        self.reference = reference
        self.local_watts = local_watts
        self.usd_per_kwh = usd_per_kwh

    @classmethod
    def from_settings(cls, settings: Settings, table: Mapping[str, Price] | None = None) -> PriceBook:
        """The reference is ``savings.reference``, else the premium model (``Settings.premium_model()``)."""
        premium = settings.premium_model()
        reference = settings.savings.reference or (f"cloud/{premium.name}" if premium else None)
        return cls(
            load_price_table() if table is None else table,
            cloud=settings.cloud,
            reference=reference,
            local_watts=settings.savings.local_watts,
            usd_per_kwh=settings.savings.usd_per_kwh,
        )

    def lookup(self, model_id: str) -> Price | None:
        """A provider model id in the shipped table; dated snapshots (``-2025-08-07``, ``-20250929``)
        fall back to their base id."""
        key = model_id.lower()
        if key in self._table:
            return self._table[key]
        base = _DATED_SUFFIX.sub("", key)
        return self._table.get(base)

    def price_for(self, name: str) -> Price | None:
        """``local/x`` -> $0; ``cloud/x`` -> config overrides over the table entry for its provider model
        id; anything else -> the table. None when input or output price is unknown."""
        if name in self._prices:
            return self._prices[name]
        price = self._price_for(name)
        if len(self._prices) < 4096:  # names come from the config and the table: a few dozen
            self._prices[name] = price
        return price

    def _price_for(self, name: str) -> Price | None:
        if name.startswith("local/"):
            return LOCAL_PRICE
        if name.startswith("cloud/"):
            cfg = self._cloud.get(name.removeprefix("cloud/"))
            return self._configured(cfg) if cfg is not None else None
        return self.lookup(name)

    def _configured(self, cfg: CloudModelConfig) -> Price | None:
        listed = self.lookup(cfg.model)
        overrides = (cfg.price_in, cfg.price_out, cfg.price_cached_in)
        if all(v is None for v in overrides):
            if cfg.price_cache_write is None or listed is None:
                return listed
            return replace(listed, source="config", cache_write=cfg.price_cache_write)
        price_in = cfg.price_in if cfg.price_in is not None else (listed.input if listed else None)
        price_out = cfg.price_out if cfg.price_out is not None else (listed.output if listed else None)
        if price_in is None or price_out is None:
            return None
        cached = cfg.price_cached_in
        if cached is None and listed is not None and cfg.price_in is None:
            cached = listed.cached_input  # the listed cache discount belongs with the listed input price
        return Price(
            price_in,
            price_out,
            cached,
            listed.checked if listed else None,
            "config",
            cache_write=cfg.price_cache_write,
        )

    def cost(self, target: str | None, usage: TokenUsage) -> float | None:
        """What ``usage`` cost on ``target``; None when its price is unknown."""
        if target is None:
            return 0.0 if _no_tokens(usage) else None
        price = self.price_for(target)
        return None if price is None else cost_usd(price, usage)

    def web_search_nano(self, served_model: str | None, searches: int) -> int | None:
        """What ``searches`` web searches cost on ``served_model``: its configured ``price_web_search``,
        else Anthropic's $10 per 1,000 for an Anthropic model; None (unknown) for any other."""
        cfg = self._cloud.get((served_model or "").removeprefix("cloud/"))
        if cfg is not None and cfg.price_web_search is not None:
            per_search = cfg.price_web_search
        elif cfg is not None and cfg.provider == "anthropic":
            per_search = ANTHROPIC_WEB_SEARCH_USD
        else:
            return None
        return _round(_dec(per_search) * searches * 1_000_000_000)

    def energy_usd(self, seconds: float) -> float:
        return nano_to_usd(energy_nano(self.local_watts, seconds, self.usd_per_kwh))

    def estimate(self, target: str, prompt_tokens: int, max_completion_tokens: int) -> float | None:
        """A pre-dispatch estimate for budget checks: the prompt plus the most the reply may cost."""
        price = self.price_for(target)
        if price is None:
            return None
        return cost_usd(price, _Usage(prompt_tokens, max_completion_tokens, 0))

    def account(
        self,
        *,
        tier: str | None,
        served_model: str | None,
        usage: TokenUsage,
        seconds: float = 0.0,
    ) -> Accounting:
        """Cost, counterfactual and saving of one finished request.

        - local: the energy estimate ($0 by default);
        - cloud: the served model's price (None if unknown);
        - no tier (an error): $0 when no tokens were reported, else the served model's price.
        The counterfactual is the same usage at the reference model's price ($0 for no tokens)."""
        if tier == "local":
            cost_n: int | None = energy_nano(self.local_watts, seconds, self.usd_per_kwh)
        elif served_model is None:
            cost_n = 0 if _no_tokens(usage) else None
        else:
            price = self.price_for(served_model)
            cost_n = None if price is None else cost_nano(price, usage)
        ref_price = self.price_for(self.reference) if self.reference else None
        if _no_tokens(usage):
            cf_n: int | None = 0
        else:
            cf_n = None if ref_price is None else cost_nano(ref_price, usage)
        # Searches the provider ran are billed on top of the tokens; any model would have run them, so
        # the counterfactual pays the same and they save nothing.
        if usage.web_searches:
            fee = self.web_search_nano(served_model, usage.web_searches)
            cost_n = None if cost_n is None or fee is None else cost_n + fee
            cf_n = None if cf_n is None or fee is None else cf_n + fee
        saved_n = None if cost_n is None or cf_n is None else cf_n - cost_n
        return Accounting(
            cost_usd=None if cost_n is None else nano_to_usd(cost_n),
            counterfactual_usd=None if cf_n is None else nano_to_usd(cf_n),
            saved_usd=None if saved_n is None else nano_to_usd(saved_n),
            reference=self.reference,
        )


@dataclass(frozen=True, slots=True)
class _Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_searches: int = 0


def _no_tokens(usage: TokenUsage) -> bool:
    return usage.prompt_tokens <= 0 and usage.completion_tokens <= 0
