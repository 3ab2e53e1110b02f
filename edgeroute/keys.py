"""Cloud API keys: kept in the OS keyring (service ``edgeroute``), or in an environment variable the config
names with ``key_env``. Never in the config, the ledger, logs or error messages.

Resolution for a cloud model: ``key_env`` when that variable is set and non-empty, else the keyring entry
``key`` (default: the provider name). On a headless box ``keyring`` would quietly pick keyrings.alt's
plaintext file when it is installed; :func:`detect_backend` refuses that unless the user chose such a
backend explicitly (``PYTHON_KEYRING_BACKEND`` or keyringrc.cfg), and says how to get a real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from edgeroute.errors import EdgerouteError, MissingApiKey

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from edgeroute.config import CloudModelConfig, Settings

SERVICE = "edgeroute"
KEY_CACHE_TTL_S = 10.0  # how long a running daemon trusts a keyring lookup (a stored key, or none)
INDEX_ENTRY = "_edgeroute_key_names"  # the names stored through edgeroute (keyrings cannot be enumerated)

KEYRING_HOWTO = """\
No usable OS keyring was found, so edgeroute cannot store API keys (it never falls back to a plaintext file
on its own). Get one of:
  - GNOME Keyring (Secret Service): `sudo apt install gnome-keyring`; on a machine without a desktop session
    start it inside D-Bus: dbus-run-session -- sh -c 'read -rs P; printf %s "$P" | gnome-keyring-daemon --unlock; edgeroute serve'
  - KWallet, in a KDE session
  - keyrings.alt, if a file is acceptable (plaintext unless you choose its encrypted backend):
    pip install keyrings.alt; export PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring
Or keep the key in an environment variable and name it in the config: key_env = "OPENAI_API_KEY"."""


class NoKeyringBackend(EdgerouteError):
    """No secure keyring backend; the message is the how-to above."""

    status = 503
    code = "no_keyring_backend"


def mask(secret: str) -> str:
    """Only the tail, and only for keys long enough that four characters give nothing away."""
    from edgeroute.config import mask_secret

    return mask_secret(secret)


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    secret: str = field(repr=False)
    source: str  # "keyring" or "env:VAR"

    def __repr__(self) -> str:  # never print the secret, even in a traceback's locals
        return f"ResolvedKey(source={self.source!r}, secret={mask(self.secret)!r})"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One row of ``edgeroute keys list``."""

    name: str
    source: Literal["keyring", "env", "unset", "missing"]  # unset: only env vars, none set in this shell
    env_vars: tuple[str, ...]
    masked: str
    used_by: tuple[str, ...]

    @property
    def where(self) -> str:
        if self.source in ("env", "unset"):
            return "env " + ",".join(self.env_vars)
        return self.source


def _is_plaintext_or_null(backend: KeyringBackend) -> bool:
    module = type(backend).__module__
    return module.startswith("keyrings.alt") or module in (
        "keyring.backends.fail",
        "keyring.backends.null",
        "keyring.backends.chainer",
    )


def detect_backend(
    candidates: Iterable[KeyringBackend] | None = None, explicit: KeyringBackend | None = None
) -> KeyringBackend:
    """The keyring backend to use: the user's explicit choice, else the best secure one installed.
    Raises :class:`NoKeyringBackend` when there is none (never picks a plaintext file by itself)."""
    from keyring import backend as kb
    from keyring import core

    if explicit is None and candidates is None:
        try:
            explicit = core.load_env() or core.load_config()
        except (
            Exception
        ) as exc:  # a misspelt PYTHON_KEYRING_BACKEND: ImportError, AttributeError, RuntimeError
            raise NoKeyringBackend(
                f"The configured keyring backend cannot be used ({exc}).\n{KEYRING_HOWTO}"
            ) from None
    if explicit is not None:
        module = type(explicit).__module__
        if module in ("keyring.backends.fail", "keyring.backends.null"):
            raise NoKeyringBackend(KEYRING_HOWTO)
        return explicit
    pool = list(candidates) if candidates is not None else list(kb.get_all_keyring())
    secure = [b for b in pool if not _is_plaintext_or_null(b)]
    best = max(secure, key=kb.by_priority, default=None)
    if best is None or best.priority <= 0:
        raise NoKeyringBackend(KEYRING_HOWTO)
    return best


def missing_key_error(model: CloudModelConfig, *, keyring_problem: bool = False) -> MissingApiKey:
    """The error for a cloud model without a key: says exactly what to run."""
    name = model.key_name
    how = f"add one with `edgeroute keys set {name}`"
    if model.key_env:
        how += f" or set the environment variable {model.key_env}"
    message = f"No API key for cloud/{model.name} - {how}."
    if keyring_problem:
        message += " (No OS keyring is available; `edgeroute keys list` says how to get one.)"
    return MissingApiKey(message)


class KeyStore:
    """Reads and writes API keys. ``backend`` None means :func:`detect_backend` on first use."""

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        environ: Mapping[str, str] = os.environ,
        *,
        cache_ttl: float = KEY_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self._backend_error: NoKeyringBackend | None = None
        self._environ = environ
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}

    # ---- backend -------------------------------------------------------------------------------

    def backend(self) -> KeyringBackend:
        if self._backend is None:
            if self._backend_error is not None:
                raise self._backend_error
            try:
                self._backend = detect_backend()
            except NoKeyringBackend as exc:
                self._backend_error = exc
                raise
        return self._backend

    def backend_name(self) -> str:
        try:
            backend = self.backend()
        except NoKeyringBackend:
            return "none"
        return f"{type(backend).__module__}.{type(backend).__name__}"

    @property
    def has_backend(self) -> bool:
        try:
            self.backend()
        except NoKeyringBackend:
            return False
        return True

    # ---- reading ---------------------------------------------------------------------------------

    def stored(self, name: str) -> str | None:
        """The keyring entry ``name`` (None when absent or when there is no keyring)."""
        try:
            backend = self.backend()
        except NoKeyringBackend:
            return None
        return backend.get_password(SERVICE, name) or None

    def resolve(self, model: CloudModelConfig) -> ResolvedKey | None:
        """The key for ``model`` and where it came from: ``key_env`` first, then the keyring."""
        if model.key_env:
            value = self._environ.get(model.key_env, "").strip()
            if value:
                return ResolvedKey(value, f"env:{model.key_env}")
        secret = self._cached_stored(model.key_name)
        return ResolvedKey(secret, "keyring") if secret else None

    def get(self, model: CloudModelConfig) -> str | None:
        resolved = self.resolve(model)
        return resolved.secret if resolved else None

    async def aget(self, model: CloudModelConfig) -> str | None:
        """:meth:`get` without blocking the event loop on a D-Bus round trip (cached for ``cache_ttl``)."""
        if model.key_env and self._environ.get(model.key_env, "").strip():
            return self.get(model)
        if self._fresh(model.key_name):
            return self.get(model)
        return await asyncio.to_thread(self.get, model)

    def has_key(self, model: CloudModelConfig) -> bool:
        """Whether ``model`` can be used: a provider without a key is skipped by the router."""
        return self.get(model) is not None

    def require(self, model: CloudModelConfig) -> str:
        secret = self.get(model)
        if secret is None:
            raise missing_key_error(model, keyring_problem=not self.has_backend)
        return secret

    def _fresh(self, name: str) -> bool:
        hit = self._cache.get(name)
        return hit is not None and self._clock() - hit[0] < self._cache_ttl

    def _cached_stored(self, name: str) -> str | None:
        hit = self._cache.get(name)
        if hit is not None and self._clock() - hit[0] < self._cache_ttl:
            return hit[1]
        secret = self.stored(name)
        self._cache[name] = (self._clock(), secret)
        return secret

    def invalidate(self) -> None:
        self._cache.clear()

    # ---- writing ---------------------------------------------------------------------------------

    def set(self, name: str, secret: str) -> None:
        """Store ``secret`` as entry ``name``. Raises NoKeyringBackend when there is no keyring."""
        backend = self.backend()
        backend.set_password(SERVICE, name, secret)
        self._cache.pop(name, None)
        names = self.names()
        if name not in names:
            backend.set_password(SERVICE, INDEX_ENTRY, "\n".join([*names, name]))

    def delete(self, name: str) -> bool:
        """Remove entry ``name``; False when there was none."""
        from keyring.errors import PasswordDeleteError

        backend = self.backend()
        self._cache.pop(name, None)
        existed = backend.get_password(SERVICE, name) is not None
        if existed:
            try:
                backend.delete_password(SERVICE, name)
            except PasswordDeleteError:
                existed = False
        names = self.names()
        if name in names:
            rest = [n for n in names if n != name]
            if rest:
                backend.set_password(SERVICE, INDEX_ENTRY, "\n".join(rest))
            else:
                with contextlib.suppress(PasswordDeleteError):
                    backend.delete_password(SERVICE, INDEX_ENTRY)
        return existed

    def names(self) -> list[str]:
        """Entry names stored through edgeroute."""
        index = self.stored(INDEX_ENTRY)
        return [n for n in (index or "").splitlines() if n]

    def list_keys(self, settings: Settings | None = None) -> list[KeyInfo]:
        """One row per key name the config uses or the keyring holds, with its source and masked tail.
        A name only ``key_env`` models use is ``unset`` rather than ``missing`` when none of its variables
        is set here: the keyring entry is only a fallback the user never chose."""
        used_by: dict[str, list[str]] = {}
        env_vars: dict[str, list[str]] = {}
        env_only: dict[str, bool] = {}  # every model using the name reads an env var and names no entry
        for model in settings.cloud if settings else []:
            used_by.setdefault(model.key_name, []).append(f"cloud/{model.name}")
            if model.key_env and model.key_env not in env_vars.setdefault(model.key_name, []):
                env_vars[model.key_name].append(model.key_env)
            chosen_env = bool(model.key_env) and model.key is None
            env_only[model.key_name] = env_only.get(model.key_name, True) and chosen_env
        names = list(used_by) + [n for n in self.names() if n not in used_by]
        rows: list[KeyInfo] = []
        for name in names:
            envs = tuple(env_vars.get(name, []))
            from_env = next(
                (self._environ[v].strip() for v in envs if self._environ.get(v, "").strip()), None
            )
            if from_env:
                rows.append(KeyInfo(name, "env", envs, mask(from_env), tuple(used_by.get(name, []))))
                continue
            secret = self.stored(name)
            source: Literal["keyring", "unset", "missing"] = "keyring" if secret else "missing"
            if not secret and env_only.get(name):
                source = "unset"  # the user chose env vars, not this (implicit) keyring entry
            rows.append(
                KeyInfo(name, source, envs, mask(secret) if secret else "", tuple(used_by.get(name, [])))
            )
        return rows


def keyring_needed(settings: Settings | None) -> bool:
    """Whether the config needs the keyring: some cloud model reads a keyring entry rather than only an
    environment variable (with no cloud model yet, the next `keys set` will need one)."""
    models = settings.cloud if settings else []
    return not models or any(not m.key_env or m.key is not None for m in models)
