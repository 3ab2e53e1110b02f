"""Cheap features: few-shot focus, structure cues, token estimates; and the no-numpy import path."""

from __future__ import annotations

import subprocess
import sys

from edgeroute.chat import Message
from edgeroute.router.features import FEATURE_NAMES, cheap_features, estimate_tokens, focus_text

FEW_SHOT = """Please answer with the letter of the correct answer.

Ian volunteered because _ despised eating intestine.
A) Ian
B) Dennis
Print only a single choice from "A" or "B" without explanation. Answer:
B

Please answer with the letter of the correct answer.

He never comes to my home because the _ is smaller.
A) home
B) house
Print only a single choice from "A" or "B" without explanation. Answer:
A

Kenneth had better skin than Craig so _ had to use more of the moisturizer.
A) Craig
B) Kenneth
Print only a single choice from "A" or "B" without explanation. Answer:"""


def test_focus_is_the_last_unanswered_item() -> None:
    focus, shots = focus_text(FEW_SHOT)
    assert shots == 2
    assert (
        focus
        == "Kenneth had better skin than Craig so _ had to use more of the moisturizer.\nA) Craig\nB) Kenneth"
    )
    assert focus_text("What is 2+2?") == ("What is 2+2?", 0)


def test_structure_cues() -> None:
    simple = cheap_features([Message(role="user", content="What is the capital of France?")])
    compound = cheap_features(
        [
            Message(
                role="user",
                content="Statement 1 | Every group of order 4 is cyclic. Statement 2 | If H is normal in G, "
                "then G/H is abelian.\nA. True, True\nB. False, False\nC. True, False\nD. False, True",
            )
        ]
    )
    assert set(simple) == set(FEATURE_NAMES)
    assert compound["enumerated_parts"] > simple["enumerated_parts"] == 0
    assert compound["options"] == 4 and compound["compound_options"] == 1.0
    assert compound["option_overlap"] > 0.3
    code = cheap_features([Message(role="user", content="```python\ndef f(x):\n    return x\n```\nfix it")])
    assert code["code"] == 1.0


def test_token_estimate_is_conservative() -> None:
    msgs = [Message(role="user", content="word " * 1000)]
    assert 1300 <= estimate_tokens(msgs) <= 1600  # ~1000-1250 real tokens
    assert estimate_tokens([Message(role="user", content="日本語" * 100)]) >= 300


def test_router_runtime_imports_no_numpy() -> None:
    code = (
        "import sys, edgeroute.router.decide, edgeroute.router.scorer, edgeroute.cli.route_cmd; "
        "assert 'numpy' not in sys.modules, 'numpy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
