"""A user stop sequence that ends a local answer is named on the wire: Anthropic's stop_reason "stop_sequence"
with the matched string (as the cloud Anthropic path does), OpenAI's plain finish_reason "stop"."""

from __future__ import annotations

from openai.types.chat import ChatCompletionMessageParam

from tests.server.live import LiveServer, ant, oai

MODEL = "local/gemma3-270m"
# The greedy starter model echoes this prompt, so its text reaches "5" within a few tokens.
PROMPT = "List the numbers 1, 2, 3, 4, 5, 6."
STOPS = ["zebra", "5"]
GREEDY = {"temperature": 0}  # sent as extra_body: this anthropic SDK's create() takes no temperature


def test_anthropic_message_names_the_stop_sequence(greedy_local: LiveServer) -> None:
    message = ant(greedy_local).messages.create(
        model=MODEL,
        max_tokens=30,
        extra_body=GREEDY,
        stop_sequences=STOPS,
        messages=[{"role": "user", "content": PROMPT}],
    )
    text = "".join(block.text for block in message.content if block.type == "text")
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "5"), text
    assert text.endswith("4, ") and "5" not in text
    assert message.usage.output_tokens < 30


def test_anthropic_stream_message_delta_names_the_stop_sequence(greedy_local: LiveServer) -> None:
    events = list(
        ant(greedy_local).messages.create(
            model=MODEL,
            max_tokens=30,
            extra_body=GREEDY,
            stop_sequences=STOPS,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
        )
    )
    deltas = [e for e in events if e.type == "message_delta"]
    assert len(deltas) == 1
    assert (deltas[0].delta.stop_reason, deltas[0].delta.stop_sequence) == ("stop_sequence", "5")
    text = "".join(
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert text.endswith("4, ") and "5" not in text
    assert events[-1].type == "message_stop"


def test_anthropic_max_tokens_cut_names_no_stop_sequence(greedy_local: LiveServer) -> None:
    message = ant(greedy_local).messages.create(
        model=MODEL,
        max_tokens=4,
        extra_body=GREEDY,
        stop_sequences=STOPS,
        messages=[{"role": "user", "content": PROMPT}],
    )
    assert (message.stop_reason, message.stop_sequence) == ("max_tokens", None)


def test_openai_chat_still_says_stop(greedy_local: LiveServer) -> None:
    client = oai(greedy_local)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": PROMPT}]
    completion = client.chat.completions.create(
        model=MODEL,
        max_tokens=30,
        temperature=0,
        stop=STOPS,
        messages=messages,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content is not None and choice.message.content.endswith("4, ")
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            max_tokens=30,
            temperature=0,
            stop=STOPS,
            messages=messages,
            stream=True,
        )
    )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == choice.message.content
