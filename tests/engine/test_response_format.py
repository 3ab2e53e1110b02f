"""``response_format`` on local models: grammar-constrained sampling in a real worker on the real Gemma 3 270M.

One engine (one worker, one thread) serves the module; the grammar cache is tested in-process against the
same GGUF's vocabulary.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from edgeroute import errors
from edgeroute.chat import ChatRequest, Finish, Message, TextDelta, Usage
from edgeroute.engine import LocalEngine
from edgeroute.engine.response_format import JSON_OBJECT_SCHEMA, json_schema_text
from tests.engine.conftest import engine_settings, make_paths

CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
}
CITY_FORMAT = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY_SCHEMA, "strict": True}}
CITY_QUESTION = "What is the largest city of France, and how many people live there? Answer in JSON."


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def engine(starter_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalEngine]:
    settings = engine_settings({"gemma": (starter_gguf, 1024)}, keep_alive=-1)
    engine = LocalEngine(settings, make_paths(tmp_path_factory.mktemp("response-format")))
    await engine.start()
    yield engine
    await engine.close()


def chat(text: str, response_format: Any, **kw: Any) -> ChatRequest:
    extra = {} if response_format is None else {"response_format": response_format}
    return ChatRequest(model="local/gemma", messages=[Message("user", text)], extra=extra, **kw)


async def answer(engine: LocalEngine, req: ChatRequest) -> tuple[str, Usage, Finish]:
    text: list[str] = []
    usage: Usage | None = None
    finish: Finish | None = None
    async for event in engine.stream_chat("gemma", req):
        if isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, Usage):
            usage = event
        elif isinstance(event, Finish):
            finish = event
    assert usage is not None and finish is not None
    return "".join(text), usage, finish


def assert_city(text: str) -> None:
    value = json.loads(text)
    assert isinstance(value, dict), text
    assert isinstance(value["city"], str) and value["city"], text
    assert isinstance(value["population"], int), text
    assert set(value) == {"city", "population"}, text


in_module_loop = pytest.mark.asyncio(loop_scope="module")


@in_module_loop
async def test_json_schema_greedy_answers_matching_json(engine: LocalEngine) -> None:
    text, usage, finish = await answer(engine, chat(CITY_QUESTION, CITY_FORMAT, max_tokens=64, temperature=0))
    assert_city(text)
    assert finish.reason == "stop"  # the grammar closed the object and let the model end its turn
    assert usage.completion_tokens < 64


@in_module_loop
async def test_without_response_format_the_same_prompt_is_prose(engine: LocalEngine) -> None:
    """The control: the model does not write this JSON unprompted, so the grammar did the work above."""
    plain, _, _ = await answer(engine, chat(CITY_QUESTION, None, max_tokens=24, temperature=0))
    as_text, _, _ = await answer(engine, chat(CITY_QUESTION, {"type": "text"}, max_tokens=24, temperature=0))
    assert as_text == plain
    with pytest.raises(ValueError):
        assert_city(plain)


@in_module_loop
async def test_json_schema_holds_when_sampling_with_temperature(engine: LocalEngine) -> None:
    for seed in (1, 2, 3):
        req = chat(CITY_QUESTION, CITY_FORMAT, max_tokens=64, temperature=0.8, seed=seed)
        text, _, finish = await answer(engine, req)
        assert finish.reason == "stop", text
        assert_city(text)


@in_module_loop
async def test_json_object_answers_a_json_object(engine: LocalEngine) -> None:
    req = chat(
        'What is the capital of Italy? Reply with a JSON object like {"capital": "..."}.',
        {"type": "json_object"},
        max_tokens=64,
        temperature=0,
    )
    text, _, finish = await answer(engine, req)
    assert finish.reason == "stop", text
    assert isinstance(json.loads(text), dict)


@in_module_loop
async def test_stop_sequences_still_cut_a_constrained_answer(engine: LocalEngine) -> None:
    req = chat(CITY_QUESTION, CITY_FORMAT, max_tokens=64, temperature=0, stop=['"population"'])
    text, _, finish = await answer(engine, req)
    assert finish.reason == "stop" and finish.stop_sequence == '"population"'
    assert text.lstrip().startswith("{") and '"city"' in text and "population" not in text


@in_module_loop
@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "foo"}, "cannot become a grammar"),  # the schema converter refuses it
        ({"enum": []}, "llama.cpp cannot parse"),  # converted, but the grammar is empty
    ],
)
async def test_a_schema_without_a_grammar_is_a_clean_400_and_the_worker_keeps_serving(
    engine: LocalEngine, schema: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "bad", "schema": schema}}
    with caplog.at_level(logging.DEBUG), pytest.raises(errors.InvalidRequest) as caught:
        await answer(engine, chat("Hi", bad, max_tokens=8, temperature=0))
    assert not [r for r in caplog.records if "::=" in r.getMessage()]  # llama.cpp's grammar dump stays out
    assert caught.value.status == 400 and caught.value.param == "response_format"
    assert reason in caught.value.message, caught.value.message
    pid = engine.status().models[0].pid
    text, _, _ = await answer(engine, chat(CITY_QUESTION, CITY_FORMAT, max_tokens=64, temperature=0))
    assert_city(text)
    assert engine.status().models[0].pid == pid  # the same worker served it


@in_module_loop
@pytest.mark.parametrize(
    "response_format",
    [
        "json",
        {"type": "xml"},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": "object"}},
    ],
)
async def test_a_malformed_response_format_is_refused_before_the_worker(
    engine: LocalEngine, response_format: Any
) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        await answer(engine, chat("Hi", response_format, max_tokens=8))
    assert caught.value.param == "response_format"


def test_response_format_to_schema_text() -> None:
    assert json_schema_text(None) is None
    assert json_schema_text({"type": "text"}) is None
    assert json_schema_text({"type": "json_object"}) == JSON_OBJECT_SCHEMA
    assert json_schema_text({"type": "json_schema", "json_schema": {"name": "x"}}) == JSON_OBJECT_SCHEMA
    text = json_schema_text(CITY_FORMAT)
    assert text is not None and list(json.loads(text)["properties"]) == ["city", "population"]


# ---- the grammar cache, in-process on the starter's vocabulary -----------------------------------------


@pytest.fixture(scope="module")
def vocab_model(starter_gguf: Path) -> Iterator[Any]:
    from llama_cpp import Llama

    llm = Llama(model_path=str(starter_gguf), vocab_only=True, verbose=False)
    yield llm
    llm.close()


def test_grammar_cache_keeps_the_most_recent_schemas(vocab_model: Any) -> None:
    from edgeroute.engine.grammar import GrammarCache

    cache = GrammarCache(vocab_model._model.vocab, vocab_model.n_vocab(), size=2)
    try:
        schemas = [json.dumps({"type": "object", "properties": {k: {"type": "string"}}}) for k in "abc"]
        first = cache.prototype(schemas[0])
        cache.prototype(schemas[1])
        assert cache.prototype(schemas[0]) is first  # a hit: parsed once
        cache.prototype(schemas[2])  # evicts schemas[1], the least recently used
        assert len(cache) == 2
        assert cache.prototype(schemas[0]) is first
    finally:
        cache.close()
    assert len(cache) == 0
