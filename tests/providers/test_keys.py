"""KeyStore: resolution order (key_env, then keyring entry), the name index, masking, caching, and backend
detection that refuses a silent plaintext fallback."""

from __future__ import annotations

import pytest
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from edgeroute.config import Settings
from edgeroute.keys import KEYRING_HOWTO, SERVICE, KeyStore, NoKeyringBackend, ResolvedKey, detect_backend
from tests.fakes.memory_keyring import MemoryKeyring
from tests.providers.conftest import cloud_model

SECRET = "sk-proj-abcdefghijklmnop1234"


def test_keyring_entry_defaults_to_the_provider_name(memory_keyring: MemoryKeyring) -> None:
    store = KeyStore(memory_keyring, environ={})
    store.set("openai", SECRET)
    assert memory_keyring.entries[(SERVICE, "openai")] == SECRET
    model = cloud_model("gpt", "openai", "http://127.0.0.1:9/v1")
    assert store.resolve(model) == ResolvedKey(SECRET, "keyring")
    assert store.require(model) == SECRET and store.has_key(model)


def test_key_env_wins_over_the_keyring(memory_keyring: MemoryKeyring) -> None:
    store = KeyStore(memory_keyring, environ={"WORK_KEY": "sk-env-value-0000000000"})
    store.set("work", SECRET)
    model = cloud_model("gpt", "openai", "http://127.0.0.1:9/v1", key="work", key_env="WORK_KEY")
    assert store.resolve(model) == ResolvedKey("sk-env-value-0000000000", "env:WORK_KEY")
    unset = cloud_model("gpt", "openai", "http://127.0.0.1:9/v1", key="work", key_env="UNSET_KEY")
    assert store.resolve(unset) == ResolvedKey(SECRET, "keyring")


def test_missing_key_error_names_the_command(memory_keyring: MemoryKeyring) -> None:
    store = KeyStore(memory_keyring, environ={})
    model = cloud_model("claude", "anthropic", "http://127.0.0.1:9", key_env="ANTHROPIC_API_KEY")
    assert not store.has_key(model)
    with pytest.raises(Exception) as info:
        store.require(model)
    assert info.value.code == "missing_api_key"  # type: ignore[attr-defined]
    assert "edgeroute keys set anthropic" in str(info.value) and "ANTHROPIC_API_KEY" in str(info.value)


def test_resolved_key_never_prints_its_secret() -> None:
    resolved = ResolvedKey(SECRET, "keyring")
    assert SECRET not in repr(resolved) and SECRET not in str(resolved)
    assert "…1234" in repr(resolved)


def test_set_delete_and_the_name_index(memory_keyring: MemoryKeyring) -> None:
    store = KeyStore(memory_keyring, environ={})
    store.set("openai", SECRET)
    store.set("groq", "gsk_0000000000000000wxyz")
    store.set("openai", SECRET + "x")  # overwrite keeps one index entry
    assert store.names() == ["openai", "groq"]
    assert store.delete("openai") is True
    assert store.delete("openai") is False
    assert store.names() == ["groq"]
    assert store.delete("groq") is True
    assert store.names() == [] and memory_keyring.entries == {}


def test_list_rows(memory_keyring: MemoryKeyring) -> None:
    settings = Settings(
        cloud=[
            {"name": "gpt", "provider": "openai", "model": "gpt-4o"},
            {"name": "mini", "provider": "openai", "model": "gpt-4o-mini"},
            {
                "name": "claude",
                "provider": "anthropic",
                "model": "claude-sonnet",
                "key_env": "ANTHROPIC_API_KEY",
            },
            {"name": "llama", "provider": "openai", "model": "llama", "key": "groq"},
        ]
    )
    store = KeyStore(memory_keyring, environ={"ANTHROPIC_API_KEY": "sk-ant-from-env-9876"})
    store.set("openai", SECRET)
    store.set("old-provider", "sk-old-00000000000000")
    rows = {r.name: r for r in store.list_keys(settings)}
    assert list(rows) == ["openai", "anthropic", "groq", "old-provider"]
    assert (rows["openai"].where, rows["openai"].masked, rows["openai"].used_by) == (
        "keyring",
        "…1234",
        ("cloud/gpt", "cloud/mini"),
    )
    assert (rows["anthropic"].where, rows["anthropic"].masked) == ("env ANTHROPIC_API_KEY", "…9876")
    assert (rows["groq"].source, rows["groq"].masked) == ("missing", "")
    assert rows["old-provider"].used_by == ()


async def test_lookups_are_cached_briefly(memory_keyring: MemoryKeyring) -> None:
    now = [0.0]
    store = KeyStore(memory_keyring, environ={}, cache_ttl=10, clock=lambda: now[0])
    model = cloud_model("gpt", "openai", "http://127.0.0.1:9/v1")
    assert await store.aget(model) is None
    memory_keyring.set_password(SERVICE, "openai", SECRET)  # set by another process
    assert await store.aget(model) is None
    now[0] = 11
    assert await store.aget(model) == SECRET
    store.set("openai", "sk-new-value-000000000")  # set through this store: seen at once
    assert await store.aget(model) == "sk-new-value-000000000"


def test_detection_refuses_plaintext_and_fail_backends() -> None:
    with pytest.raises(NoKeyringBackend) as info:
        detect_backend(candidates=[PlaintextKeyring(), fail.Keyring()])
    message = info.value.message
    assert message == KEYRING_HOWTO
    for hint in ("gnome-keyring", "KWallet", "keyrings.alt", "PYTHON_KEYRING_BACKEND", "key_env"):
        assert hint in message
    with pytest.raises(NoKeyringBackend):
        detect_backend(explicit=fail.Keyring())


def test_detection_prefers_a_secure_backend_and_honours_an_explicit_choice() -> None:
    secure = MemoryKeyring()
    assert detect_backend(candidates=[PlaintextKeyring(), secure, fail.Keyring()]) is secure
    chosen = PlaintextKeyring()
    assert detect_backend(explicit=chosen) is chosen  # the user asked for a file: their call


def test_no_backend_means_no_key_but_env_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    store = KeyStore(environ={"OPENAI_API_KEY": SECRET})
    assert not store.has_backend and store.backend_name() == "none"
    model = cloud_model("gpt", "openai", "http://127.0.0.1:9/v1")
    with pytest.raises(Exception, match="No OS keyring is available"):
        store.require(model)
    with_env = cloud_model("gpt", "openai", "http://127.0.0.1:9/v1", key_env="OPENAI_API_KEY")
    assert store.get(with_env) == SECRET
    with pytest.raises(NoKeyringBackend):
        store.set("openai", SECRET)


def test_a_misspelt_backend_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.nope.Keyring")
    with pytest.raises(NoKeyringBackend, match="configured keyring backend cannot be used"):
        detect_backend()
