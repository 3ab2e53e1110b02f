"""Which sampling controls reach llama.cpp for a local model, and which values are the client's error."""

from __future__ import annotations

from typing import Any

import pytest

from edgeroute.engine.sampling import logit_bias_of, sampling_options
from edgeroute.errors import InvalidRequest


def test_the_controls_set_become_generate_keywords() -> None:
    extra = {"top_k": 20, "min_p": 0.1, "typical_p": 0.9, "repeat_penalty": 1.1, "frequency_penalty": 0.5}
    assert sampling_options({**extra, "presence_penalty": -0.5, "user": "x"}) == {
        **extra,
        "presence_penalty": -0.5,
    }


def test_left_out_or_null_keeps_the_defaults_and_a_disabled_top_k_is_zero() -> None:
    assert sampling_options({"top_k": None, "min_p": None}) == {}
    assert sampling_options({"top_k": -1}) == {"top_k": 0}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("top_k", 2.5),
        ("top_k", "40"),
        ("top_k", True),
        ("min_p", 1.5),
        ("repeat_penalty", 0),
        ("frequency_penalty", 3),
        ("presence_penalty", "high"),
        ("typical_p", -0.1),
    ],
)
def test_a_wrong_type_or_range_is_a_400_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        sampling_options({field: value})
    assert caught.value.param == field and field in str(caught.value)


def test_logit_bias_maps_token_ids_to_biases() -> None:
    assert logit_bias_of({"logit_bias": {"3771": 100, "10784": -2.5}}) == {3771: 100.0, 10784: -2.5}
    assert logit_bias_of({}) == {} and logit_bias_of({"logit_bias": None}) == {}


@pytest.mark.parametrize("bias", [[1, 2], {"yes": 1}, {"-3": 1}, {"5": 101}, {"5": True}, {"5": "1"}])
def test_a_bad_logit_bias_is_a_400(bias: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        logit_bias_of({"logit_bias": bias})
    assert caught.value.param == "logit_bias"
