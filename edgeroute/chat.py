"""The one internal request/stream type. Wire formats (OpenAI chat, OpenAI completions, Anthropic Messages)
translate to and from these at the edges; backends, the router and the ledger only ever see these.

Plain slotted dataclasses rather than pydantic models: they sit on the per-token path, and validation
already happened at the edge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
"""Why an answer ended; ``content_filter``: the provider's filter or the model itself refused (OpenAI's
``content_filter``, Anthropic's ``refusal``)."""
Wire = Literal["openai", "anthropic"]
# An Anthropic prompt-cache breakpoint (``{"type": "ephemeral"}``), kept where the client put it.
CacheControl = dict[str, Any]


@dataclass(slots=True)
class ToolCall:
    """A complete tool call in a message (arguments as the JSON text the model produced)."""

    id: str
    name: str
    arguments: str
    cache_control: CacheControl | None = None


# Anthropic's signed reasoning in an assistant turn, kept as the block the client sent
# (``{"type": "thinking", "thinking", "signature"}`` or ``{"type": "redacted_thinking", "data"}``): only an
# Anthropic upstream takes it back, in place; every other backend sees only the turn's text.
THINKING_PARTS = ("thinking", "redacted_thinking")
# Messages API fields edgeroute does not interpret: the Anthropic wire keeps them in ChatRequest.extra, the
# Anthropic provider passes them on, and providers of another kind leave them out.
ANTHROPIC_EXTRAS = (
    "top_k",
    "metadata",
    "thinking",
    "service_tier",
    "output_config",
    "output_format",
    "context_management",
)


@dataclass(slots=True)
class Message:
    """One chat turn. ``content`` is text, or OpenAI-style parts (``{"type": "text"|"image_url", ...}``)
    when the message carries images, a part carries a ``cache_control`` breakpoint or an assistant turn
    carries Anthropic thinking blocks (:data:`THINKING_PARTS`). ``cache_control`` here is a breakpoint on a
    tool result (whose content is text)."""

    role: Role
    content: str | list[dict[str, Any]] | None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    cache_control: CacheControl | None = None
    # The turn as an Anthropic client sent it, where ``content`` cannot hold it all (server tool blocks,
    # documents, a tool result's images): an Anthropic upstream gets these blocks instead of ``content``
    # (``[]``: nothing, the message exists for other backends alone); every other backend reads ``content``.
    anthropic_blocks: list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, images and other parts left out. A system prompt's blocks keep a paragraph
        break between them (Claude Code sends several; glued they would run into one sentence)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        separator = "\n\n" if self.role == "system" else ""
        return separator.join(p.get("text", "") for p in self.content if p.get("type") == "text")

    def has_images(self) -> bool:
        return isinstance(self.content, list) and any(p.get("type") == "image_url" for p in self.content)


@dataclass(slots=True)
class Tool:
    """A function the model may call (JSON-schema parameters)."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    cache_control: CacheControl | None = None


def new_id(prefix: str, hex_digits: int = 24) -> str:
    """``prefix`` + random hex, as the ids in OpenAI's and Anthropic's answers look; straight from
    ``os.urandom`` (a few times cheaper than ``uuid4().hex``, and ids are made on every request)."""
    return prefix + os.urandom(hex_digits // 2).hex()


def new_request_id() -> str:
    return new_id("req_")


@dataclass(slots=True)
class ChatRequest:
    """A chat request as every backend sees it.

    ``model`` is what the client asked for (``auto``, ``local/x``, ``cloud/y`` or an alias);
    ``wire`` is the API the client spoke, and ``extra`` carries that API's fields edgeroute does not
    interpret (OpenAI's ``response_format``..., Anthropic's ``thinking``...) for upstreams of the same
    kind: a provider takes from a foreign wire's extras only what means the same to it.
    ``max_tokens_field`` is the name the client gave ``max_tokens`` (OpenAI's reasoning models take only
    ``max_completion_tokens``); None when it gave none.
    """

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False
    tools: list[Tool] | None = None
    tool_choice: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    wire: Wire = "openai"
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    private: bool = False
    route_hint: Literal["auto", "local", "cloud"] | None = None
    client: str | None = None
    request_id: str = field(default_factory=new_request_id)
    # OpenAI's ``logprobs``: None, or how many likeliest alternatives each token's entry lists
    # (``top_logprobs``, 0-20). Local models compute them; OpenAI-style upstreams get the fields as sent.
    logprobs: int | None = None

    def prompt_text(self) -> str:
        """All message text joined, for heuristics and token estimates."""
        return "\n".join(m.text() for m in self.messages)

    def has_images(self) -> bool:
        return any(m.has_images() for m in self.messages)

    def anthropic_tools(self) -> bool:
        """Whether the request carries tools only Anthropic runs (server tools such as web search, kept
        whole in ``extra["tools"]`` by the Anthropic wire): the router sends it to an Anthropic model."""
        tools = self.extra.get("tools")
        return isinstance(tools, list) and any(
            isinstance(t, dict) and t.get("type") not in (None, "custom") for t in tools
        )


@dataclass(slots=True)
class CompletionRequest:
    """A raw-prompt completion (``/v1/completions``); with ``suffix`` it is fill-in-the-middle."""

    model: str
    prompt: str
    suffix: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False
    private: bool = False
    client: str | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    inputs: list[str]
    private: bool = False
    client: str | None = None
    request_id: str = field(default_factory=new_request_id)


# ---- stream events: what every backend yields, in order ------------------------------------------


@dataclass(slots=True)
class TokenStats:
    """Confidence of one sampled token: its probability, the distribution's entropy (nats) and the
    top-1 minus top-2 probability margin. Feeds the router's cascade."""

    prob: float
    entropy: float
    margin: float


@dataclass(slots=True)
class TextDelta:
    """Answer text. ``refusal``: an OpenAI model's ``refusal`` text (it declined, e.g. under structured
    output): OpenAI clients get it as ``refusal`` again, every other API as plain text. A delta may carry
    empty text with ``stats`` or ``logprobs``."""

    text: str
    stats: TokenStats | None = None
    refusal: bool = False
    # OpenAI ``logprobs.content`` entries of the tokens this delta ends (``token``, ``logprob``,
    # ``bytes``, ``top_logprobs``), when the client asked for them.
    logprobs: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ReasoningDelta:
    """Reasoning text some upstreams stream separately (``reasoning_content``, Anthropic ``thinking``).

    From an Anthropic upstream, ``signature`` ends the current thinking block (after this event's text)
    with the signature Anthropic wants back with it, and ``redacted`` is a whole ``redacted_thinking``
    block's opaque data (``text`` empty). OpenAI-style reasoning has neither."""

    text: str
    signature: str | None = None
    redacted: str | None = None


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of tool call number ``index``: the first piece carries ``id`` and ``name``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class Usage:
    """Token counts of one answer. ``prompt_tokens`` includes every prompt token (OpenAI's convention):
    ``cached_tokens`` read from a prompt cache and ``cache_write_tokens`` written to one (Anthropic bills
    writes above the input price), of which ``cache_write_1h_tokens`` went to a 1-hour cache (billed
    higher than the default 5-minute one). ``web_searches``: searches the provider ran for the answer
    (Anthropic's web search server tool, billed per search on top of the tokens)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    estimated: bool = False
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    web_searches: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class Finish:
    """The end of an answer; ``stop_sequence`` is the stop sequence it ended on, where the backend says."""

    reason: FinishReason
    stop_sequence: str | None = None
    # An Anthropic upstream's own stop reason where ``reason`` says less (``pause_turn``, ``refusal``),
    # passed on to Anthropic clients as it came.
    anthropic_stop: str | None = None


@dataclass(slots=True)
class ContentBlock:
    """A whole Anthropic content block no other API has a place for (``server_tool_use`` with its complete
    input, ``web_search_tool_result``...), in its place in the answer: Anthropic clients get it as it came,
    every other renderer ignores it (the answer's text still arrives)."""

    block: dict[str, Any]


@dataclass(slots=True)
class Citation:
    """A source the answer's text cites from here on (an Anthropic upstream's ``citations_delta``: web
    search results, documents with citations on). Anthropic clients get it on the text block it starts;
    every other renderer ignores it (the text still arrives)."""

    citation: dict[str, Any]


@dataclass(slots=True)
class Annotation:
    """An OpenAI-style note on the answer's text, with character offsets into it (``url_citation`` from
    search models or OpenRouter's web plugin). Chat Completions and Responses clients get it; the Messages
    API has no place for it (the text still arrives)."""

    annotation: dict[str, Any]


StreamEvent = (
    TextDelta | ReasoningDelta | ToolCallDelta | ContentBlock | Citation | Annotation | Usage | Finish
)


@dataclass(slots=True)
class Attempt:
    """One try at a target in a request's fallback trail."""

    target: str
    error: str | None = None  # error code (e.g. upstream_timeout); None = it answered
    status: int | None = None  # upstream HTTP status, when there was one
    latency_ms: float = 0.0
    message: str = ""

    def header_value(self) -> str:
        parts = [self.target, self.error or "ok"]
        if self.status is not None:
            parts.append(str(self.status))
        parts.append(f"{self.latency_ms:.0f}ms")
        return ":".join(parts)


@dataclass(slots=True)
class RouteDecision:
    """The router's verdict: where a request goes, with a score in [0, 1] and a human-readable reason
    (``rule:private``, ``score 0.71>=0.58 (target 30%)``, ``adaptive:on-battery +0.05``)."""

    tier: Literal["local", "cloud"]
    target: str
    reason: str
    score: float | None = None
    features: dict[str, float] = field(default_factory=dict)
    fallbacks: list[str] = field(default_factory=list)
    cascade: bool = False
