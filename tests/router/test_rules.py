"""Every hard rule of decide(), first match wins, each with its named reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeroute.chat import Message, Tool
from edgeroute.config import RouterConfig
from edgeroute.errors import BudgetExceeded, ContextLengthExceeded, InvalidRequest, UnsupportedByModel
from edgeroute.router.decide import decide
from edgeroute.router.scorer import Scorer
from edgeroute.router.state import CloudTarget, LocalTarget

from .conftest import chat, state

SECRET = "here is my key sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"


def test_pinned_local_and_cloud(scorer: Scorer, config: RouterConfig) -> None:
    d = decide(chat("hi", model="local/gemma"), state(), config, scorer)
    assert (d.tier, d.target, d.reason) == ("local", "local/gemma", "rule:pinned")
    d = decide(chat("hi", model="cloud/gpt"), state(), config, scorer)
    assert (d.tier, d.target, d.reason) == ("cloud", "cloud/gpt", "rule:pinned")
    d = decide(chat("hi", model="my-alias"), state(pinned="cloud/gpt"), config, scorer)
    assert d.target == "cloud/gpt"


def test_header_route(scorer: Scorer, config: RouterConfig) -> None:
    d = decide(chat("hi", route_hint="cloud"), state(), config, scorer)
    assert (d.tier, d.reason) == ("cloud", "rule:header cloud")
    d = decide(chat("prove the Riemann hypothesis " * 20, route_hint="local"), state(), config, scorer)
    assert (d.tier, d.reason) == ("local", "rule:header local")


def test_mode(scorer: Scorer) -> None:
    d = decide(chat("hi"), state(), RouterConfig(mode="cloud-only"), scorer)
    assert (d.tier, d.reason) == ("cloud", "rule:mode cloud-only")
    d = decide(chat("hi"), state(mode="local-only"), RouterConfig(), scorer)
    assert (d.tier, d.reason) == ("local", "rule:mode local-only")


def test_private_stays_local_whatever_asks_for_cloud(scorer: Scorer, config: RouterConfig) -> None:
    d = decide(chat("summarize this", private=True), state(), config, scorer)
    assert (d.tier, d.reason) == ("local", "rule:private")
    assert all(f.startswith("local/") for f in d.fallbacks)
    for kw in ({"model": "cloud/gpt"}, {"route_hint": "cloud"}):
        with pytest.raises(InvalidRequest) as exc:
            decide(chat("x", private=True, **kw), state(), config, scorer)
        assert exc.value.code == "private_request_cloud_target"
    with pytest.raises(InvalidRequest):
        decide(chat("x", private=True), state(mode="cloud-only"), config, scorer)


def test_private_without_local_model_is_refused(scorer: Scorer, config: RouterConfig) -> None:
    with pytest.raises(UnsupportedByModel):
        decide(chat("x", private=True), state(local=()), config, scorer)


def test_secret_bearing_prompt_stays_local(scorer: Scorer, config: RouterConfig) -> None:
    d = decide(chat(SECRET), state(), config, scorer)
    assert (d.tier, d.reason) == ("local", "rule:sensitive api-key")
    # even when the client pins a cloud model or the mode is cloud-only
    d = decide(chat(SECRET, model="cloud/gpt"), state(), config, scorer)
    assert d.tier == "local" and d.reason == "rule:sensitive api-key (cloud refused)"
    d = decide(chat(SECRET), state(mode="cloud-only"), config, scorer)
    assert d.tier == "local"
    d = decide(chat("mail jane.doe@gmail.com the card 4111 1111 1111 1111"), state(), config, scorer)
    assert d.reason == "rule:sensitive card-number,email"


def test_sensitive_rule_can_be_turned_off(scorer: Scorer) -> None:
    d = decide(chat(SECRET, model="cloud/gpt"), state(), RouterConfig(keep_sensitive_local=False), scorer)
    assert d.tier == "cloud"
    d = decide(chat("mail jane.doe@gmail.com"), state(), RouterConfig(sensitive_kinds=["api-key"]), scorer)
    assert not d.reason.startswith("rule:sensitive")


_SECRETS = st.sampled_from(
    [
        SECRET,
        "password: 'Tr0ub4dor&3'",
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI",
        "card 5555 5555 5555 4444",
        "ping jane.doe@gmail.com",
        "postgres://bob:pa55word@10.0.0.1/db",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    secret=_SECRETS,
    before=st.text(max_size=200),
    after=st.text(max_size=200),
    model=st.sampled_from(["auto", "cloud/gpt", "local/gemma"]),
    hint=st.sampled_from([None, "auto", "cloud", "local"]),
    mode=st.sampled_from(["auto", "cloud-only", "local-only"]),
    private=st.booleans(),
    budget=st.sampled_from([None, 0.0, 5.0]),
)
def test_private_or_secret_bearing_prompts_never_go_to_the_cloud(
    scorer: Scorer,
    secret: str,
    before: str,
    after: str,
    model: str,
    hint: str | None,
    mode: str,
    private: bool,
    budget: float | None,
) -> None:
    request = chat(f"{before}\n{secret}\n{after}", model=model, route_hint=hint, private=private)
    try:
        d = decide(request, state(mode=mode, budget_left_usd=budget), RouterConfig(), scorer)
    except InvalidRequest:
        assert private  # refusing is fine; leaving the machine is not
        return
    assert d.tier == "local" and d.target.startswith("local/")
    assert all(f.startswith("local/") for f in d.fallbacks)
    assert not d.cascade


def test_context_rule_picks_a_target_that_fits(scorer: Scorer, config: RouterConfig) -> None:
    long = "word " * 7000  # ~7k real tokens, estimated 10k: over 8192 with max_tokens
    d = decide(chat(long, max_tokens=512), state(), config, scorer)
    assert d.tier == "cloud" and d.reason.startswith("rule:context ") and d.reason.endswith(">8192")
    need = int(d.reason.split()[1].split(">")[0])
    assert need > 8192
    # a bigger local model that fits is preferred over the cloud
    big = state(local=(LocalTarget("gemma", n_ctx=8192), LocalTarget("qwen", n_ctx=32768)))
    d = decide(chat(long, max_tokens=512, route_hint="local"), big, config, scorer)
    assert d.target == "local/qwen"
    with pytest.raises(ContextLengthExceeded):
        decide(chat(long), state(cloud=(CloudTarget("small", context_window=4096),)), config, scorer)


def test_max_tokens_counts_toward_the_context_up_to_the_local_answer_room(
    scorer: Scorer, config: RouterConfig
) -> None:
    """A client's max_tokens is a ceiling (Claude Code asks for 32000 on every request): a local model must
    leave ``local_answer_room`` for the answer, not all of it; a cloud model must hold all of it."""
    d = decide(chat("short prompt", max_tokens=32000), state(), config, scorer)
    assert not d.reason.startswith("rule:context"), d.reason
    roomy = config.model_copy(update={"local_answer_room": 9000})
    d = decide(chat("short prompt", max_tokens=9000), state(), roomy, scorer)
    assert d.reason.startswith("rule:context ") and d.reason.endswith(">8192")
    long = "word " * 4000  # estimated ~5.7k tokens: with 4096 of answer room, over 8192
    d = decide(chat(long, max_tokens=32000), state(), config, scorer)
    assert d.tier == "cloud" and d.reason.startswith("rule:context ")
    with pytest.raises(ContextLengthExceeded, match=r"largest context: local/gemma, 8192 tokens"):
        decide(chat(long, max_tokens=32000), state(cloud=()), config, scorer)
    small_window = state(cloud=(CloudTarget("small", context_window=16000),))
    with pytest.raises(ContextLengthExceeded):  # 32000 of answer does not fit a 16k cloud window either
        decide(chat(long, max_tokens=32000), small_window, config, scorer)


def test_tools_and_images_go_where_they_are_supported(scorer: Scorer, config: RouterConfig) -> None:
    tool = Tool(name="get_weather")
    d = decide(chat("weather?", tools=[tool]), state(), config, scorer)
    assert (d.tier, d.reason) == ("cloud", "rule:tools")
    toolsy = state(local=(LocalTarget("gemma", supports_tools=True),))
    d = decide(chat("weather?", tools=[tool]), toolsy, config, scorer)
    assert d.reason != "rule:tools"
    img = chat("what is this?")
    img.messages = [
        Message(
            role="user",
            content=[
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
            ],
        )
    ]
    d = decide(img, state(), config, scorer)
    assert (d.tier, d.reason) == ("cloud", "rule:images")


def test_budget_exhausted(scorer: Scorer, config: RouterConfig) -> None:
    d = decide(chat("hi", model="cloud/gpt"), state(budget_left_usd=0.0), config, scorer)
    assert d.tier == "local" and d.reason == "rule:budget exhausted (rule:pinned)"
    with pytest.raises(BudgetExceeded):
        decide(
            chat("hi", model="cloud/gpt"), state(budget_left_usd=0.0), config, scorer, budget_action="reject"
        )
    d = decide(chat("hi", model="cloud/gpt"), state(budget_left_usd=1.0), config, scorer)
    assert d.tier == "cloud"


def test_no_local_model_or_no_cloud_target(scorer: Scorer, config: RouterConfig) -> None:
    d = decide(chat("hi"), state(local=()), config, scorer)
    assert (d.tier, d.reason) == ("cloud", "rule:no-local-model")
    d = decide(chat("prove Fermat's last theorem " * 30), state(cloud=()), config, scorer)
    assert (d.tier, d.reason) == ("local", "rule:no-cloud-target")
    d = decide(chat("x"), state(cloud=(CloudTarget("gpt", healthy=False),)), config, scorer)
    assert d.tier == "local"
    with pytest.raises(UnsupportedByModel):
        decide(chat("x"), state(local=(), cloud=()), config, scorer)
    with pytest.raises(UnsupportedByModel) as no_cloud:
        decide(chat("x", route_hint="cloud"), state(cloud=()), config, scorer)
    assert no_cloud.value.code == "no_cloud_model"
    assert "edgeroute keys set" in no_cloud.value.message  # says how to get one


def test_anthropic_server_tools_go_to_an_anthropic_model(scorer: Scorer, config: RouterConfig) -> None:
    """Claude Code's WebSearch asks its small model with the web_search server tool alone: only an
    Anthropic model runs it (elsewhere it is left out and the model would answer from memory)."""
    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}
    request = chat("Search: edgeroute release notes", extra={"tools": [web_search]})
    claude = CloudTarget("claude", tier="cheap", provider="anthropic")
    d = decide(request, state(cloud=(CloudTarget("gpt"), claude)), config, scorer)
    assert (d.target, d.reason) == ("cloud/claude", "rule:server-tools")
    d = decide(request, state(), config, scorer)  # no Anthropic model: the other rules place it
    assert d.reason != "rule:server-tools"
    custom_only = chat("hi", extra={"tools": [{"type": "custom", "name": "x"}]})
    assert decide(custom_only, state(cloud=(claude,)), config, scorer).reason != "rule:server-tools"
    pinned = chat("Search", model="local/gemma", extra={"tools": [web_search]})
    assert decide(pinned, state(cloud=(claude,)), config, scorer).target == "local/gemma"
