"""``edgeroute pull``, ``edgeroute models [info NAME]`` and ``edgeroute rm NAME``: getting local models,
seeing what is here, and removing them."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from edgeroute.engine.registry import LocalModel
    from edgeroute.gguf_meta import GGUFInfo
    from edgeroute.hub.catalog import Catalog
    from edgeroute.hub.store import ModelStore, StoredModel
    from edgeroute.paths import Paths


def _store() -> tuple[ModelStore, Paths]:
    from edgeroute.hub.store import ModelStore
    from edgeroute.paths import resolve_paths

    paths = resolve_paths()
    return ModelStore(paths.models_dir), paths


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


def _size(n: float | None) -> str:
    from edgeroute.hub.progress import human_bytes

    return "-" if n is None else human_bytes(n)


def _count(n: int | None) -> str:
    if not n:
        return "-"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.3g}" + suffix
    return str(n)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- pull


@click.command()
@click.argument("model", required=False)
@click.option(
    "--list", "show_list", is_flag=True, help="Show the catalog, with a 'fits this machine' column."
)
@click.option("--name", default=None, help="Store and serve the model as local/NAME (default: from MODEL).")
def pull(model: str | None, show_list: bool, name: str | None) -> None:
    """Download a model from the Hugging Face hub.

    Resumable (an interrupted pull carries on when run again) and sha256-verified.

    MODEL is a catalog alias (qwen2.5-coder:1.5b, llama3.2:3b, minilm: see --list), owner/repo[:QUANT]
    or hf.co/owner/repo[:QUANT] (Q4_K_M by default), or owner/repo/file.gguf. HF_ENDPOINT, HF_TOKEN and
    HF_HUB_OFFLINE are honoured.
    """
    from edgeroute.hub.catalog import load_catalog

    catalog = load_catalog()
    if show_list:
        _print_catalog(catalog)
        return
    if not model:
        _fail("name a MODEL to pull, or pass --list to see the catalog", code=2)
    assert model is not None
    if name is not None:
        from edgeroute.hub.resolve import safe_name

        if safe_name(name) != name:
            _fail(
                f"--name {name!r}: use lowercase letters, digits, '.', '_' and '-' (e.g. {safe_name(name)})",
                2,
            )
    _run_pull(catalog, model, name)


def _run_pull(catalog: Catalog, model: str, name: str | None) -> None:
    from edgeroute.hub.errors import PullError
    from edgeroute.hub.hfapi import HubClient
    from edgeroute.hub.progress import progress_for
    from edgeroute.hub.pull import Puller

    store, _ = _store()
    puller = Puller(
        store,
        HubClient.from_environ(),
        catalog,
        progress=progress_for(sys.stderr),
        notes=lambda text: click.echo(text, err=True),
    )
    try:
        result = puller.pull(model, name=name)
    except PullError as exc:
        _fail(exc.message)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: run the same command again to resume the download.", err=True)
        raise SystemExit(130) from None
    m = result.model.manifest
    if result.up_to_date:
        click.echo(f"{m.name} is up to date ({_size(m.size)}); served as local/{m.name}.")
        return
    details = ", ".join(x for x in (_size(m.size), m.quant, m.role) if x)
    click.echo(f"Pulled {m.name} ({details}) into {result.model.folder}; served as local/{m.name}.")


def _print_catalog(catalog: Catalog) -> None:
    import psutil

    total = psutil.virtual_memory().total
    store, _ = _store()
    rows = [
        [
            e.alias,
            e.role + (" +fim" if e.fim else ""),
            _size(e.size_mb * 1e6),
            f"{e.context // 1024}k" if e.context >= 1024 else str(e.context),
            f"{e.ram_gb:g} GB",
            "yes" if e.fits(total) else "no",
            "yes" if store.get(e.alias) is not None else "",
            e.license,
        ]
        for e in catalog.entries
    ]
    headers = ["ALIAS", "ROLE", "SIZE~", "CONTEXT", "RAM", "FITS", "PULLED", "LICENSE"]
    click.echo(_table(headers, rows))
    click.echo(f"\nThis machine: {_size(total)} RAM ('fits' leaves a quarter for the OS and apps).")
    click.echo(
        "Pull with `edgeroute pull ALIAS`; any GGUF repo works too: `edgeroute pull owner/repo:Q4_K_M`."
    )


# ---------------------------------------------------------------- models


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """List the local models edgeroute serves (downloaded, starter, configured); `models info NAME` shows
    one."""
    if ctx.invoked_subcommand is not None:
        return
    store, paths = _store()
    loaded = _loaded_models(paths)
    entries = [_describe(m, loaded) for m in store.list()]
    entries += _other_local_models(paths, {e["name"] for e in entries}, loaded)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo("No models downloaded yet. Try `edgeroute pull --list`.")
        return
    if not any(e["source"] == "pulled" for e in entries):
        origins = {"starter": "come with edgeroute", "config": "are [[local]] entries of the config"}
        where = " or ".join(
            text for source, text in origins.items() if any(e["source"] == source for e in entries)
        )
        click.echo(
            f"No models downloaded yet; the models below {where or 'are served'}. "
            "`edgeroute pull --list` shows more to download.\n"
        )
    rows = [
        [
            e["name"],
            e["source"],
            e["file"],
            _size(e["size"]),
            e["quant"] or "-",
            e["architecture"] or "-",
            _count(e["parameters"]),
            str(e["context"] or "-"),
            e["role"] or "-",
            {True: "yes", False: "no", None: "-"}[e["loaded"]],
        ]
        for e in entries
    ]
    headers = ["NAME", "SOURCE", "FILE", "SIZE", "QUANT", "ARCH", "PARAMS", "CONTEXT", "ROLE", "LOADED"]
    click.echo(_table(headers, rows))
    if loaded is None:
        click.echo("\n(LOADED: the daemon is not running.)")


def _info(model: StoredModel) -> GGUFInfo | None:
    from edgeroute.gguf_meta import GGUFError, read_gguf_info

    try:
        return read_gguf_info(model.path)
    except (GGUFError, OSError):
        return None


def _describe(model: StoredModel, loaded: set[str] | None) -> dict[str, Any]:
    info = _info(model)
    m = model.manifest
    return {
        "name": m.name,
        "id": f"local/{m.name}",
        "file": m.files[0] + (f" (+{len(m.files) - 1} parts)" if len(m.files) > 1 else ""),
        "size": m.size,
        "quant": m.quant or (info.quantization if info else None),
        "architecture": info.architecture if info else None,
        "parameters": info.parameter_count if info else None,
        "context": info.context_length if info else None,
        "role": m.role,
        "loaded": None if loaded is None else m.name in loaded,
        "complete": model.is_complete(),
        "source": "pulled",
    }


def _served_models(paths: Paths, *, quiet: bool = False) -> dict[str, LocalModel]:
    """Every local model the daemon would serve (the engine's own registry, so the names are what
    ``local/<name>`` resolves to). Config errors and models that cannot be served are noted on stderr."""
    from edgeroute.config import load_settings
    from edgeroute.engine.registry import ModelRegistry
    from edgeroute.errors import ConfigError

    try:
        settings = load_settings(paths.config_file, explicit=False)
    except ConfigError as exc:
        if not quiet:
            click.echo(f"note: starter and configured models not listed: {exc}", err=True)
        return {}
    registry = ModelRegistry(settings, paths)
    found = registry.scan()
    if not quiet:
        for problem in registry.problems.values():
            click.echo(f"note: {problem}", err=True)
    return found


def _other_local_models(paths: Paths, pulled: set[str], loaded: set[str] | None) -> list[dict[str, Any]]:
    """The starter models and ``[[local]]`` entries the daemon serves besides the pulled ones."""
    out: list[dict[str, Any]] = []
    for model in sorted(_served_models(paths).values(), key=lambda m: m.name):
        if model.name in pulled and model.source == "pulled":
            continue
        info = model.info
        out.append(
            {
                "name": model.name,
                "id": f"local/{model.name}",
                "file": model.path.name,
                "size": model.path.stat().st_size if model.path.is_file() else None,
                "quant": info.quantization,
                "architecture": info.architecture,
                "parameters": info.parameter_count,
                "context": model.n_ctx,
                "role": model.role,
                "loaded": None if loaded is None else model.name in loaded,
                "complete": True,
                "source": model.source,
            }
        )
    return out


def _loaded_models(paths: Paths) -> set[str] | None:
    """Names of the local models the running daemon has loaded, or None when no daemon answers.

    The daemon's ``/v1/models`` marks each local model with ``"loaded"`` (edgeroute's extension)."""
    from edgeroute.daemon import read_state

    state = read_state(paths)
    if state is None:
        return None
    from edgeroute.cli.common import daemon_models
    from edgeroute.config import load_settings
    from edgeroute.errors import ConfigError

    try:
        settings = load_settings(paths.config_file, explicit=False)
    except ConfigError:
        settings = None
    data = daemon_models(state.url, settings)
    if data is None:
        return None
    return {
        str(e["id"]).removeprefix("local/")
        for e in data
        if str(e.get("id", "")).startswith("local/") and e.get("loaded") is True
    }


@models.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(name: str, as_json: bool) -> None:
    """Show a local model's manifest and GGUF metadata (NAME: the name, local/NAME or the alias)."""
    store, paths = _store()
    model = store.get(name)
    facts: dict[str, Any]
    if model is not None:
        m = model.manifest
        facts = {
            "name": m.name,
            "served as": f"local/{m.name}",
            "alias": m.alias,
            "source": m.source,
            "revision": m.revision,
            "folder": str(model.folder),
            "files": m.files,
            "size": m.size,
            "sha256": m.sha256,
            "quant": m.quant,
            "role": m.role,
            "license": m.license,
            "pulled at": m.pulled_at,
        }
        info = _info(model)
    else:
        everything = _served_models(paths, quiet=True)
        served = everything.get(name.removeprefix("local/"))
        if served is None:
            names = ", ".join(sorted({m.name for m in store.list()} | set(everything))) or "none"
            _fail(f"no local model named {name!r} (local models: {names})")
            return
        facts = {
            "name": served.name,
            "served as": f"local/{served.name}",
            "source": {"starter": "starter model", "config": "[[local]] in config.toml"}.get(
                served.source, served.source
            ),
            "file": str(served.path),
            "size": served.info.file_size,
            "role": served.role,
            "served context": served.n_ctx,
        }
        info = served.info
    if info is not None:
        facts |= _gguf_facts(info)
    else:
        facts["gguf"] = "the file's header could not be read"
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    _print_facts(facts)


def _gguf_facts(info: GGUFInfo) -> dict[str, Any]:
    return {
        "architecture": info.architecture,
        "model name": info.name,
        "parameters": info.parameter_count,
        "size label": info.size_label,
        "file type": info.quantization,
        "context length": info.context_length,
        "embedding length": info.embedding_length,
        "layers": info.block_count,
        "attention heads": info.head_count,
        "kv heads": info.head_count_kv,
        "vocabulary": info.vocab_size,
        "tokenizer": info.tokenizer_model,
        "embedding model": info.is_embedding,
        "fill-in-the-middle": info.supports_fim,
        "fim token ids": [info.fim_prefix_id, info.fim_suffix_id, info.fim_middle_id]
        if info.supports_fim
        else None,
        "chat template": info.chat_template,
    }


def _print_facts(facts: dict[str, Any]) -> None:
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        if value is None:
            continue
        if key == "chat template":
            first = str(value).strip().splitlines()[0] if str(value).strip() else ""
            value = f"{len(str(value))} chars: {first[:70]}{'…' if len(first) > 70 else ''}"
        elif key in ("size",):
            value = f"{_size(value)} ({value} bytes)"
        elif key in ("parameters",):
            value = f"{_count(value)} ({value})"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        click.echo(f"{key.ljust(width)}  {value}")


def _not_found(store: ModelStore, name: str) -> None:
    names = ", ".join(m.name for m in store.list()) or "none"
    _fail(f"no downloaded model named {name!r} (downloaded: {names})")


# ---------------------------------------------------------------- rm


@click.command()
@click.argument("name")
def rm(name: str) -> None:
    """Delete a downloaded model.

    NAME: the name, local/NAME or the catalog alias.
    """
    store, paths = _store()
    model = store.remove(name)
    if model is None:
        served = _served_models(paths, quiet=True).get(name.removeprefix("local/"))
        if served is not None and served.source == "starter":
            _fail(f"local/{served.name} is a starter model, not a download; there is nothing to remove")
        if served is not None and served.source == "config":
            _fail(f"local/{served.name} comes from a [[local]] entry in config.toml; remove that entry")
        _not_found(store, name)
        return
    click.echo(f"Removed {model.name} ({_size(model.manifest.size)} freed).")
