"""The Hugging Face hub, through ``huggingface_hub``: a repo's file listing with LFS sha256s, and the URL and
headers to download one file. Every hub failure becomes a :mod:`edgeroute.hub.errors` error a person can act on.

``HF_ENDPOINT``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` are read when the client is built, not when
``huggingface_hub`` was imported (it freezes some of them into module constants at import time).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from edgeroute.hub.errors import (
    GatedRepo,
    HubUnreachable,
    ModelSpecError,
    OfflineError,
    RemoteFileNotFound,
    RepoNotFound,
)
from edgeroute.hub.resolve import RemoteFile, RepoListing

DEFAULT_ENDPOINT = "https://huggingface.co"
_TRUE = {"1", "on", "yes", "true"}


def token_help(repo: str, endpoint: str) -> str:
    return (
        f"Accept the model's terms on {endpoint}/{repo} with your account, create a read token at "
        f"{endpoint}/settings/tokens, then `export HF_TOKEN=hf_...` (or `hf auth login`) and pull again."
    )


@dataclass(frozen=True, slots=True)
class HubClient:
    endpoint: str
    token: str | None
    offline: bool
    timeout: float = 30.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HubClient:
        env = os.environ if environ is None else environ
        offline = (env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE") or "").lower() in _TRUE
        endpoint = (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        token = env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN")
        if token is None and not offline:
            from huggingface_hub import get_token  # the token saved by `hf auth login`

            token = get_token()
        return cls(endpoint=endpoint, token=token or None, offline=offline)

    def listing(self, repo: str, revision: str = "main") -> RepoListing:
        """Files of ``repo`` at ``revision`` with sizes and LFS sha256s, and the commit they belong to."""
        if self.offline:
            raise OfflineError(f"HF_HUB_OFFLINE is set: cannot list {repo} on the hub.")
        import httpx2
        from huggingface_hub import HfApi
        from huggingface_hub import errors as hf_errors

        api = HfApi(endpoint=self.endpoint, token=self.token if self.token else False)
        try:
            info = api.model_info(repo, revision=revision, files_metadata=True, timeout=self.timeout)
        except hf_errors.OfflineModeIsEnabled as exc:
            raise OfflineError(f"HF_HUB_OFFLINE is set: cannot list {repo} on the hub.") from exc
        except hf_errors.GatedRepoError as exc:
            raise GatedRepo(f"{repo} is gated. {token_help(repo, self.endpoint)}") from exc
        except hf_errors.RepositoryNotFoundError as exc:
            raise RepoNotFound(self._not_found(repo)) from exc
        except hf_errors.RevisionNotFoundError as exc:
            raise RemoteFileNotFound(f"{repo} has no revision {revision!r}.") from exc
        except hf_errors.HFValidationError as exc:
            raise ModelSpecError(f"{repo!r} is not a valid hub repo id.") from exc
        except hf_errors.HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "no"
            if status == 401 and self.token:
                raise HubUnreachable(
                    f"{self.endpoint} rejected the token (HF_TOKEN or `hf auth login`); renew it or unset it."
                ) from exc
            raise HubUnreachable(f"{self.endpoint} answered {status} for {repo}; try again later.") from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise HubUnreachable(f"cannot reach {self.endpoint} ({type(exc).__name__}): {exc}") from exc
        files = tuple(
            RemoteFile(
                path=s.rfilename,
                size=s.lfs.size if s.lfs is not None else s.size,
                sha256=s.lfs.sha256.lower() if s.lfs is not None and s.lfs.sha256 else None,
            )
            for s in info.siblings or []
        )
        return RepoListing(repo=repo, revision=info.sha or revision, files=files, gated=bool(info.gated))

    def _not_found(self, repo: str) -> str:
        private = "" if self.token else " If it is private, set HF_TOKEN to a token that can read it."
        return f"{repo} was not found on {self.endpoint}.{private}"

    def file_url(self, repo: str, revision: str, path: str) -> str:
        return f"{self.endpoint}/{repo}/resolve/{quote(revision, safe='')}/{quote(path, safe='/')}"

    def headers(self) -> dict[str, str]:
        """Sent to the hub only: httpx drops Authorization when a redirect leaves the hub's origin."""
        from edgeroute import __version__

        headers = {"User-Agent": f"edgeroute/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers
