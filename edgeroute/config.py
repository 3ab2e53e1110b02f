"""The config file: pydantic models for every section, loading from TOML, ``EDGEROUTE_*`` overrides, and
error reports a person can act on (``config.toml: router.target_cloud_share: must be between 0 and 1``).

Environment overrides use ``__`` between levels: ``EDGEROUTE_SERVER__PORT=4000``,
``EDGEROUTE_ROUTER__MODE=local-only``. They win over the file.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edgeroute.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENV_PREFIX = "EDGEROUTE_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


def _share(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _positive_int(value: int) -> int:
    if value < 1:
        raise ValueError("must be 1 or more")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("must be a TCP port between 1 and 65535")
    return value


def _name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid name (letters, digits, '.', '_', ':', '-')")
    return value


def parse_duration(value: str | int | float) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1h"``; ``-1`` (any negative) means forever."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 300, '10m' or -1")
    if isinstance(value, int | float):
        return float(value) if value >= 0 else -1.0
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", value)
    if not match:
        raise ValueError(f"{value!r} is not a duration (use seconds, or '30s', '10m', '1h', or -1 for never)")
    number = float(match.group(1))
    if number < 0:
        return -1.0
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2) or "s"]
    return number * scale


Share = Annotated[float, AfterValidator(_share)]
NonNegative = Annotated[float, AfterValidator(_non_negative)]
PositiveInt = Annotated[int, AfterValidator(_positive_int)]
Port = Annotated[int, AfterValidator(_port)]
Name = Annotated[str, AfterValidator(_name)]


class Section(BaseModel):
    """Every section rejects unknown keys, so a typo is an error rather than a silent default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerConfig(Section):
    host: str = Field("127.0.0.1", description="Address to bind; anything but loopback needs api_tokens.")
    port: Port = Field(3343, description="TCP port (3343 spells EDGE on a phone keypad).")
    api_tokens: list[str] = Field(
        default_factory=list, description="Bearer tokens clients must send; required off loopback."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host names accepted besides localhost (DNS-rebinding guard)."
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS); none by default."
    )
    max_body_mb: NonNegative = Field(10.0, description="Largest request body accepted, in MB.")
    drain_seconds: NonNegative = Field(10.0, description="How long `edgeroute stop` waits for requests.")


class EngineConfig(Section):
    keep_alive: float = Field(
        600.0, description="Unload a model this long after its last request (-1: never)."
    )
    max_loaded: PositiveInt = Field(3, description="Most local models loaded at once.")
    queue_depth: PositiveInt = Field(8, description="Requests waiting per model before `local_busy`.")
    stop_loops: bool = Field(
        True,
        description="End a local answer that has become one stretch of up to 300 tokens repeated three "
        "times or more: small models fall into such loops, which would run to the token limit.",
    )
    threads: int | None = Field(None, description="llama.cpp threads; default: physical cores.")
    n_gpu_layers: int = Field(-1, description="Layers to offload when llama.cpp has a GPU backend (-1: all).")
    use_extra_bufts: bool | None = Field(
        None,
        description="llama.cpp extra CPU buffer types (AMX repack). None: try, and fall back after a crash.",
    )
    memory_headroom_mb: NonNegative = Field(256.0, description="Free memory to leave when loading a model.")

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class LocalModelConfig(Section):
    name: Name
    path: Path | None = Field(None, description="A GGUF file.")
    model: str | None = Field(None, description="A catalog alias or a pulled model's name.")
    chat_format: str | None = Field(None, description="Override the GGUF's own chat template.")
    n_ctx: PositiveInt | None = Field(None, description="Context length; default: min(model's, 8192).")
    keep_alive: float | None = None
    supports_tools: bool = Field(
        False,
        description="Requests with tools may run here; the model's tool-call markup (Qwen/Hermes <tool_call>, "
        "Mistral [TOOL_CALLS], Llama's JSON call) reaches clients as tool calls.",
    )
    role: Literal["chat", "code", "embed"] | None = None

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _one_source(self) -> LocalModelConfig:
        if (self.path is None) == (self.model is None):
            raise ValueError("set exactly one of path or model")
        return self


class CloudModelConfig(Section):
    name: Name
    provider: Literal["openai", "anthropic"]
    base_url: str | None = Field(None, description="Default: the provider's public API.")
    model: str = Field(description="The provider's model id.")
    key: str | None = Field(None, description="Keyring entry (`edgeroute keys set NAME`); default: provider.")
    key_env: str | None = Field(None, description="An environment variable holding the key instead.")
    fallbacks: list[str] | None = None
    price_in: NonNegative | None = Field(None, description="USD per 1M input tokens.")
    price_out: NonNegative | None = Field(None, description="USD per 1M output tokens.")
    price_cached_in: NonNegative | None = None
    price_cache_write: NonNegative | None = Field(
        None,
        description="USD per 1M tokens written to a 5-minute prompt cache (1-hour writes: 1.6x this); "
        "default: 1.25x the input price, as Anthropic bills.",
    )
    price_web_search: NonNegative | None = Field(
        None,
        description="USD per web search the provider runs for an answer; default: Anthropic's $0.01 "
        "for Anthropic models (none other reports searches).",
    )
    thinking: Literal["adaptive", "budget"] | None = Field(
        None,
        description="anthropic provider: how an OpenAI client's reasoning_effort is asked of this model: "
        "adaptive (Claude Opus/Sonnet 4.6 and later) or budget (older Claude models: a thinking budget "
        "by effort); default: such a request is answered without thinking.",
    )
    context_window: PositiveInt | None = None
    supports_tools: bool = True
    supports_images: bool = True
    tier: Literal["cheap", "premium"] = "premium"
    connect_timeout: NonNegative = 5.0
    first_token_timeout: NonNegative = 60.0
    total_timeout: NonNegative = 600.0
    max_retries: int = Field(2, ge=0, le=10)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = Field(
        None,
        description="openai provider: the name the token limit is sent under (OpenAI's o-series and gpt-5 "
        "take only max_completion_tokens); default: the name the client used, else max_tokens.",
    )
    max_output_tokens: PositiveInt | None = Field(
        None,
        description="The most output tokens the model takes (gpt-4o: 16384); a larger client limit is "
        "lowered to it (Claude Code asks for 32000). Default: the client's limit as sent.",
    )

    @property
    def key_name(self) -> str:
        return self.key or self.provider


class SavingsConfig(Section):
    reference: str | None = Field(None, description="Counterfactual target; default: the premium model.")
    local_watts: NonNegative = Field(0.0, description="Power draw while generating locally (0: free).")
    usd_per_kwh: NonNegative = 0.0


class TaskRouteConfig(Section):
    """A task route, as LLM gateways write them: requests matching a task label, keywords or a regex go to
    ``target`` (then ``fallbacks``); ``max_input_tokens`` caps what the route accepts."""

    name: Name
    task: str | None = Field(None, description="Match the client's task label (header x-edgeroute-task).")
    keywords: list[str] = Field(
        default_factory=list, description="Match any of these words (case-insensitive)."
    )
    regex: str | None = Field(None, description="Match this regular expression on the last user message.")
    target: str = Field(description="local/<name>, cloud/<name>, or auto (the router decides).")
    fallbacks: list[str] = Field(default_factory=list)
    max_input_tokens: PositiveInt | None = Field(None, description="Longer prompts skip this route.")
    cascade: bool = Field(False, description="Answer locally first; escalate when the answer is unsure.")

    @model_validator(mode="after")
    def _matches_something(self) -> TaskRouteConfig:
        if self.task is None and not self.keywords and self.regex is None:
            raise ValueError("a route needs task, keywords or regex")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from None
        return self


class CascadeConfig(Section):
    """Local-first answers that escalate to the cloud when the local model's tokens are unsure."""

    enabled: bool = Field(False, description="Cascade every auto-routed local answer (routes opt in alone).")
    window_tokens: PositiveInt = Field(16, description="Decide within this many tokens, before any is sent.")
    quantile: Share = Field(0.1, description="Which low quantile of token probabilities to test.")
    min_token_prob: Share = Field(0.2, description="Escalate when that quantile is below this probability.")
    max_entropy: NonNegative | None = Field(
        None, description="Also escalate when mean entropy (nats) exceeds."
    )


class AdaptiveConfig(Section):
    """Threshold shifts from machine state and budget (negative: more cloud; positive: more local)."""

    on_battery: float = Field(-0.05, description="Shift while on battery (local inference drains it).")
    cpu_busy: float = Field(-0.05, description="Shift while CPU load is above cpu_busy_load.")
    cpu_busy_load: Share = 0.85
    low_memory: float = Field(-0.05, description="Shift while free memory is below low_memory_mb.")
    low_memory_mb: NonNegative = 1024.0
    queue_step: float = Field(-0.02, description="Shift per request waiting for the local model.")
    provider_down: float = Field(0.1, description="Shift while the premium provider is unhealthy.")
    budget_burn: float = Field(0.1, description="Shift per unit of spend above pace (burn 2.0 = twice).")


class RouterConfig(Section):
    mode: Literal["auto", "local-only", "cloud-only"] = "auto"
    target_cloud_share: Share = 0.3
    default_fallbacks: list[str] = Field(default_factory=list)
    embedding_model: str | None = Field(None, description="Local embedding model used for routing.")
    use_embedding: bool = Field(True, description="Embed prompts for the score (off: cheap features only).")
    keep_sensitive_local: bool = Field(True, description="Prompts with secrets or personal data stay local.")
    sensitive_kinds: list[str] | None = Field(
        None, description="Which detectors run (default: all; see docs/routing.md)."
    )
    moderate_share: Share | None = Field(None, description="With a cheap tier: share of requests it takes.")
    local_answer_room: PositiveInt = Field(
        4096,
        description="The longest local answer, and the room a local model must have for it beyond the "
        "prompt: a client's larger max_tokens, or none, counts as this much (Claude Code asks for 32000 on "
        "every request). A local answer that reaches it ends with finish_reason length.",
    )
    adaptive_max_shift: Share = Field(0.1, description="Largest threshold shift from machine/budget state.")
    threshold: Share | None = Field(None, description="Fixed premium threshold (default: calibrated).")
    moderate_threshold: Share | None = Field(None, description="Fixed cheap-tier threshold.")
    calibration_file: Path | None = Field(
        None,
        description="Thresholds from `edgeroute calibrate` (default: the data dir's router-calibration.json).",
    )
    model_file: Path | None = Field(None, description="A trained router artifact (default: the shipped one).")
    routes: list[TaskRouteConfig] = Field(default_factory=list)
    cascade: CascadeConfig = Field(default_factory=CascadeConfig)
    adaptive: AdaptiveConfig = Field(default_factory=AdaptiveConfig)


class BudgetConfig(Section):
    daily_usd: NonNegative | None = None
    monthly_usd: NonNegative | None = None
    on_budget_exceeded: Literal["local", "reject"] = "local"


class ClientConfig(Section):
    name: Name
    token: str | None = None
    daily_usd: NonNegative | None = None
    monthly_usd: NonNegative | None = None
    requests_per_minute: PositiveInt | None = None
    tokens_per_minute: PositiveInt | None = None


class LedgerConfig(Section):
    log_prompts: bool = Field(False, description="Store prompt text in the ledger (default: a hash only).")
    synchronous: Literal["FULL", "NORMAL"] = Field(
        "NORMAL",
        description="NORMAL: a committed row survives a killed daemon (WAL), ~0.1 ms per write; "
        "FULL: also survives a power cut, at an fsync (~4 ms here) on every request's response path.",
    )


class Settings(BaseSettings):
    """The whole effective configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    server: ServerConfig = Field(default_factory=ServerConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    local: list[LocalModelConfig] = Field(default_factory=list)
    cloud: list[CloudModelConfig] = Field(default_factory=list)
    savings: SavingsConfig = Field(default_factory=SavingsConfig)
    router: RouterConfig = Field(default_factory=RouterConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    clients: list[ClientConfig] = Field(default_factory=list)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first so it wins over the file contents passed as init kwargs; no .env files.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _references(self) -> Settings:
        names = [f"local/{m.name}" for m in self.local] + [f"cloud/{m.name}" for m in self.cloud]
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise ValueError(f"{n} is defined twice")
            seen.add(n)
        known = set(names)
        for where, ref in self.target_refs():
            if ref not in known and not ref.startswith("local/"):
                raise ValueError(
                    f"{where}: {ref} names no configured model (known: {', '.join(sorted(known)) or 'none'})"
                )
        return self

    def target_refs(self) -> list[tuple[str, str]]:
        """``(where, target)`` for every target the config names: fallbacks, task routes, the savings
        reference (cloud ones are checked here; local ones by ``config validate``, which knows the models
        pulled and shipped)."""
        refs = [("router.default_fallbacks", r) for r in self.router.default_fallbacks]
        for m in self.cloud:
            refs += [(f"cloud {m.name!r} fallbacks", r) for r in m.fallbacks or []]
        for route in self.router.routes:
            targets = ([] if route.target == "auto" else [route.target]) + route.fallbacks
            refs += [(f"router.routes {route.name!r}", r) for r in targets]
        if self.savings.reference:
            refs.append(("savings.reference", self.savings.reference))
        return refs

    def premium_model(self) -> CloudModelConfig | None:
        """The reference premium model: the first cloud model of tier premium."""
        for m in self.cloud:
            if m.tier == "premium":
                return m
        return self.cloud[0] if self.cloud else None

    def redacted(self) -> dict[str, Any]:
        """The effective config as plain data with every secret masked (for `config show`)."""
        data = self.model_dump(mode="json")
        data["server"]["api_tokens"] = [mask_secret(t) for t in self.server.api_tokens]
        for client in data["clients"]:
            if client.get("token"):
                client["token"] = mask_secret(client["token"])
        return data


def mask_secret(secret: str) -> str:
    """Show only enough of a secret to recognise it: ``…c3f9``."""
    return "…" + secret[-4:] if len(secret) >= 12 else "…"


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _format_error(err: Mapping[str, Any]) -> tuple[str, str]:
    loc = _format_loc(tuple(err["loc"]))
    kind = err["type"]
    if kind == "extra_forbidden":
        return loc, "unknown key"
    if kind == "missing":
        return loc, "required key is missing"
    msg = str(err["msg"])
    msg = msg.removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        msg = f"{msg} (got {err.get('input')!r})"
    return loc, msg


def format_validation_error(exc: ValidationError, source: str, environ: Mapping[str, str]) -> str:
    """One ``source: key: reason`` line per problem; values from the environment name their variable."""
    lines = []
    for err in exc.errors():
        loc, msg = _format_error(err)
        env_name = ENV_PREFIX + "__".join(str(p).upper() for p in err["loc"] if not isinstance(p, int))
        where = f"{env_name} (environment)" if env_name in environ else source
        lines.append(f"{where}: {loc}: {msg}" if loc else f"{where}: {msg}")
    return "\n".join(lines)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (create one with `edgeroute config init`)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def load_settings(path: Path | None = None, *, explicit: bool = False) -> Settings:
    """Load the config file at ``path`` (a missing default file means defaults; a missing ``explicit``
    file is an error), apply ``EDGEROUTE_*`` overrides from the environment, validate.
    Raises :class:`ConfigError` with one ``file: key: reason`` line per problem."""
    data: dict[str, Any] = {}
    source = str(path) if path else "defaults"
    if path is not None and (explicit or path.exists()):
        data = read_toml(path)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, os.environ)) from None
