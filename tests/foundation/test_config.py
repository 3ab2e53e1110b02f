"""Config loading: good files, every kind of bad value, missing files, unknown keys, env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeroute.config import load_settings, parse_duration
from edgeroute.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


GOOD = """
[server]
host = "127.0.0.1"
port = 4444

[engine]
keep_alive = "2m"

[[local]]
name = "gemma3-270m"
path = "/models/gemma.gguf"

[[cloud]]
name = "gpt-4o"
provider = "openai"
base_url = "https://api.openai.com/v1"
model = "gpt-4o"
key = "openai"
fallbacks = ["local/gemma3-270m"]
price_in = 2.5
price_out = 10.0

[savings]
reference = "cloud/gpt-4o"

[router]
mode = "auto"
target_cloud_share = 0.3

[budget]
daily_usd = 5.0
on_budget_exceeded = "local"
"""


def test_good_file_loads(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert s.server.port == 4444
    assert s.engine.keep_alive == 120.0
    assert s.local[0].path == Path("/models/gemma.gguf")
    assert s.cloud[0].fallbacks == ["local/gemma3-270m"]
    assert s.cloud[0].key_name == "openai"
    assert s.premium_model() is s.cloud[0]
    assert s.budget.daily_usd == 5.0


def test_missing_default_file_means_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "absent.toml")
    assert s.server.port == 3343 and s.router.target_cloud_share == 0.3 and s.local == []


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"absent.toml: file not found"):
        load_settings(tmp_path / "absent.toml", explicit=True)


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config.toml: not valid TOML"):
        load_settings(write(tmp_path, "[server\nport = 1"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[router]\ntarget_cloud_share = 1.5", "router.target_cloud_share: must be between 0 and 1"),
        ("[router]\ntarget_cloud_share = -0.1", "router.target_cloud_share: must be between 0 and 1"),
        ('[router]\nmode = "sometimes"', "router.mode: Input should be 'auto', 'local-only' or 'cloud-only'"),
        ("[server]\nport = 70000", "server.port: must be a TCP port between 1 and 65535"),
        ('[server]\nport = "high"', "server.port: Input should be a valid integer"),
        ("[budget]\ndaily_usd = -1", "budget.daily_usd: must be 0 or more"),
        ('[engine]\nkeep_alive = "soon"', "engine.keep_alive: 'soon' is not a duration"),
        ("[engine]\nqueue_depth = 0", "engine.queue_depth: must be 1 or more"),
        ('[[local]]\nname = "x"', "local[0]: set exactly one of path or model"),
        ('[[local]]\nname = "bad name!"\npath = "/x.gguf"', "local[0].name: 'bad name!' is not a valid name"),
        ('[[cloud]]\nname = "c"\nprovider = "azure"\nmodel = "m"', "cloud[0].provider: Input should be"),
        ('[[cloud]]\nname = "c"\nprovider = "openai"', "cloud[0].model: required key is missing"),
        (
            '[[cloud]]\nname = "c"\nprovider = "openai"\nmodel = "m"\nfallbacks = ["cloud/nope"]',
            "cloud 'c' fallbacks: cloud/nope names no configured model",
        ),
        (
            '[[router.routes]]\nname = "sql"\nkeywords = ["sql"]\ntarget = "cloud/gpt-4o"',
            "router.routes 'sql': cloud/gpt-4o names no configured model",
        ),
        (
            '[[router.routes]]\nname = "r"\nregex = "x"\ntarget = "auto"\nfallbacks = ["gpt-4o"]',
            "router.routes 'r': gpt-4o names no configured model",
        ),
        (
            '[[local]]\nname = "a"\npath = "/a"\n[[local]]\nname = "a"\npath = "/b"',
            "local/a is defined twice",
        ),
    ],
)
def test_bad_values_are_reported_with_file_key_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[router]\ntarget_cloud_shares = 0.3", "router.target_cloud_shares"),
        ("[serverr]\nport = 1", "serverr"),
        ('[[cloud]]\nname = "c"\nprovider = "openai"\nmodel = "m"\napi_key = "sk-x"', "cloud[0].api_key"),
    ],
)
def test_unknown_keys_are_rejected_by_name(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert f"{path}: {key}: unknown key" in str(info.value).splitlines()


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEROUTE_SERVER__PORT", "5555")
    monkeypatch.setenv("EDGEROUTE_ROUTER__MODE", "local-only")
    monkeypatch.setenv("EDGEROUTE_ENGINE__KEEP_ALIVE", "-1")
    s = load_settings(write(tmp_path, GOOD))
    assert s.server.port == 5555
    assert s.router.mode == "local-only"
    assert s.engine.keep_alive == -1.0
    assert s.router.target_cloud_share == 0.3  # untouched keys keep the file's value


def test_bad_environment_value_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEROUTE_ROUTER__TARGET_CLOUD_SHARE", "7")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, GOOD))
    assert str(info.value) == (
        "EDGEROUTE_ROUTER__TARGET_CLOUD_SHARE (environment): router.target_cloud_share: must be between 0 and 1"
    )


@pytest.mark.parametrize(
    ("value", "seconds"), [(300, 300.0), ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), (0, 0.0), (-1, -1.0)]
)
def test_durations(value: str | int, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_redacted_masks_tokens(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[server]\napi_tokens = ["tok-abcdefghijkl-9f3c"]'))
    shown = s.redacted()
    assert shown["server"]["api_tokens"] == ["…9f3c"]
    assert "abcdefghijkl" not in str(shown)
