"""Models from the Hugging Face hub: the curated catalog, resolving a MODEL argument to files, resumable
verified downloads, and the models folder the engine serves from.

    from edgeroute.hub import HubClient, ModelStore, Puller, load_catalog
    store = ModelStore(paths.models_dir)
    Puller(store, HubClient.from_environ(), load_catalog()).pull("qwen2.5-coder:1.5b")
"""

from edgeroute.hub.catalog import Catalog, CatalogEntry, load_catalog
from edgeroute.hub.errors import (
    ChecksumMismatch,
    GatedRepo,
    HubUnreachable,
    ModelSpecError,
    NotEnoughDisk,
    OfflineError,
    PullError,
    QuantNotFound,
    RemoteFileNotFound,
    RepoNotFound,
)
from edgeroute.hub.hfapi import HubClient
from edgeroute.hub.pull import Puller, PullResult, detect_role
from edgeroute.hub.resolve import ModelSpec, parse_spec, safe_name
from edgeroute.hub.store import Manifest, ModelStore, StoredModel

__all__ = [
    "Catalog",
    "CatalogEntry",
    "ChecksumMismatch",
    "GatedRepo",
    "HubClient",
    "HubUnreachable",
    "Manifest",
    "ModelSpec",
    "ModelSpecError",
    "ModelStore",
    "NotEnoughDisk",
    "OfflineError",
    "PullError",
    "PullResult",
    "Puller",
    "QuantNotFound",
    "RemoteFileNotFound",
    "RepoNotFound",
    "StoredModel",
    "detect_role",
    "load_catalog",
    "parse_spec",
    "safe_name",
]
