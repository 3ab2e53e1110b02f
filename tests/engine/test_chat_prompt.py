"""Chat templates that refuse a conversation's shape: strict ones (Gemma's and Mistral's Hugging Face
templates) raise unless a single system prompt comes first and user and assistant take turns."""

from __future__ import annotations

import pytest

from edgeroute.engine.chat_prompt import ChatPromptBuilder, ChatTemplateError, alternating

# The checks of Gemma's template, in short: a system prompt only first, then strict alternation.
STRICT = (
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] + '\n' %}"
    "{% set rest = messages[1:] %}{% else %}{% set system = '' %}{% set rest = messages %}{% endif %}"
    "{% for m in rest %}"
    "{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "<{{ m['role'] }}>{% if loop.first %}{{ system }}{% endif %}{{ m['content'] }}</{{ m['role'] }}>"
    "{% endfor %}<assistant>"
)


def strict_builder() -> ChatPromptBuilder:
    return ChatPromptBuilder(
        gguf_template=STRICT, override=None, architecture="gemma3", bos_token="", eos_token=""
    )


def test_a_later_system_message_joins_the_user_turn_for_a_strict_template() -> None:
    prompt = strict_builder().render(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "List the files."},
            {"role": "assistant", "content": "Done."},
            {"role": "system", "content": "Agents: Explore."},
            {"role": "user", "content": "Read one."},
        ]
    )
    assert prompt == (
        "<user>Be brief.\nList the files.</user><assistant>Done.</assistant>"
        "<user>Agents: Explore.\n\nRead one.</user><assistant>"
    )


def test_back_to_back_user_turns_become_one_and_tool_turns_stay() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": "r", "tool_call_id": "1"},
        {"role": "tool", "content": "s", "tool_call_id": "2"},
    ]
    assert alternating(messages) == [{"role": "user", "content": "a\n\nb"}, *messages[2:]]
    assert alternating(messages[2:]) == messages[2:]


def test_a_conversation_the_template_accepts_is_rendered_as_sent() -> None:
    builder = strict_builder()
    assert builder.render([{"role": "user", "content": "hi"}]) == "<user>hi</user><assistant>"
    with pytest.raises(ChatTemplateError, match="must alternate"):
        builder.render([{"role": "assistant", "content": "first"}])  # no reshaping makes this one valid


def builtin(name: str | None, architecture: str = "gemma3") -> ChatPromptBuilder:
    return ChatPromptBuilder(
        gguf_template=None, override=name, architecture=architecture, bos_token="", eos_token=""
    )


def test_llama_cpps_gemma_template_keeps_a_trailing_system_message_in_the_last_user_turn() -> None:
    """The starter uses llama.cpp's built-in Gemma template, which dropped a trailing system message (Claude
    Code's first request ends with one, listing its agents)."""
    prompt = builtin(None).render(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "List the files."},
            {"role": "system", "content": "Agents: Explore."},
        ]
    )
    assert "Agents: Explore." in prompt
    assert (
        prompt.index("List the files.")
        < prompt.index("Agents: Explore.")
        < prompt.rindex("<start_of_turn>model")
    )


def test_llama_cpps_gemma_template_keeps_a_later_system_message_before_the_next_answer() -> None:
    prompt = builtin("gemma").render(
        [
            {"role": "user", "content": "List the files."},
            {"role": "system", "content": "Agents: Explore."},
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "Read one."},
        ]
    )
    assert prompt.index("List the files.") < prompt.index("Agents: Explore.") < prompt.index("Done.")


def test_a_built_in_template_that_takes_system_turns_anywhere_gets_them_as_sent() -> None:
    messages = [
        {"role": "user", "content": "List the files."},
        {"role": "system", "content": "Agents: Explore."},
    ]
    assert builtin("chatml").render(messages) == (
        "<|im_start|>user\nList the files.<|im_end|>\n<|im_start|>system\nAgents: Explore.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
