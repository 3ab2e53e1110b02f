"""What can go wrong while pulling a model; every message says what happened and what to do next.

PullError                    (EdgerouteError, status 400/404/502/507)
├── ModelSpecError           the MODEL argument cannot be understood, or the alias is unknown
├── RepoNotFound             no such repo on the hub (or a private one without a token)
├── GatedRepo                the repo needs an accepted licence and a token (says how to set HF_TOKEN)
├── QuantNotFound            the quant asked for is absent; lists the quants that exist
├── RemoteFileNotFound       the file asked for is absent (or a split part is missing)
├── OfflineError             HF_HUB_OFFLINE is set and the model is not downloaded yet
├── HubUnreachable           the hub could not be reached or answered in an unexpected way
├── ChecksumMismatch         the downloaded bytes do not match the sha256; the file was deleted
└── NotEnoughDisk            too little free space (checked before), or ENOSPC while writing (partial kept)
"""

from __future__ import annotations

from edgeroute.errors import EdgerouteError


class PullError(EdgerouteError):
    status = 502
    code = "pull_failed"


class ModelSpecError(PullError):
    status = 400
    code = "invalid_model_spec"
    error_type = "invalid_request_error"


class RepoNotFound(PullError):
    status = 404
    code = "repo_not_found"
    error_type = "invalid_request_error"


class GatedRepo(PullError):
    status = 403
    code = "gated_repo"
    error_type = "invalid_request_error"


class QuantNotFound(PullError):
    status = 404
    code = "quant_not_found"
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, available: list[str]) -> None:
        super().__init__(message)
        self.available = available


class RemoteFileNotFound(PullError):
    status = 404
    code = "file_not_found"
    error_type = "invalid_request_error"


class OfflineError(PullError):
    status = 503
    code = "hub_offline"


class HubUnreachable(PullError):
    status = 502
    code = "hub_unreachable"


class ChecksumMismatch(PullError):
    status = 502
    code = "checksum_mismatch"


class NotEnoughDisk(PullError):
    status = 507
    code = "not_enough_disk"
