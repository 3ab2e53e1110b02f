"""Router test helpers: requests, states and the shared routing data."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeroute.chat import ChatRequest, Message
from edgeroute.config import RouterConfig
from edgeroute.router.scorer import Scorer, load_artifact
from edgeroute.router.state import CloudTarget, LocalTarget, RouterState

REPO = Path(__file__).resolve().parents[2]
ROUTING_DATA = REPO.parent / "shared" / "routing-data"


def chat(text: str, **kw: object) -> ChatRequest:
    return ChatRequest(
        model=str(kw.pop("model", "auto")), messages=[Message(role="user", content=text)], **kw
    )  # type: ignore[arg-type]


def state(**kw: object) -> RouterState:
    base: dict[str, object] = {
        "local": (LocalTarget("gemma", n_ctx=8192),),
        "cloud": (CloudTarget("gpt", tier="premium", context_window=128000),),
    }
    base.update(kw)
    return RouterState(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def scorer() -> Scorer:
    """The shipped artifact without an embedding model (cheap head)."""
    return Scorer(load_artifact())


@pytest.fixture
def config() -> RouterConfig:
    return RouterConfig()


@pytest.fixture(scope="session")
def routing_data() -> Path:
    assert ROUTING_DATA.is_dir(), f"the shared routing data is missing: {ROUTING_DATA}"
    return ROUTING_DATA
