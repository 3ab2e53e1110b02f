"""The exception tree every layer raises; the HTTP edge maps it to OpenAI- or Anthropic-shaped bodies.

    EdgerouteError                      status  code
    ├── InvalidRequest                  400     invalid_request / the field's own code
    │   └── ContextLengthExceeded       400     context_length_exceeded
    ├── ModelNotFound                   404     model_not_found
    ├── MissingApiKey                   401     missing_api_key (says which command to run)
    ├── BudgetExceeded                  402     budget_exceeded
    ├── RateLimited                     429     rate_limited (Retry-After)
    ├── LocalError                      5xx     local_*
    │   ├── LocalBusy                   503     local_busy (Retry-After)
    │   ├── LocalModelCrashed           502     local_model_crashed
    │   ├── InsufficientMemory          503     insufficient_memory
    │   └── UnsupportedByModel          400     e.g. fim_not_supported
    ├── UpstreamError                   502     upstream_error (one cloud attempt failed)
    │   ├── UpstreamTimeout             504     upstream_timeout
    │   ├── UpstreamConnectError        502     upstream_unreachable
    │   └── UpstreamRateLimited         429     upstream_rate_limited
    └── AllTargetsFailed                502/503 all_targets_failed (names every attempt)

Low-level errors (httpx, pipes, sqlite) are mapped at the boundary that sees them: ``raise X(...) from exc``.
Messages never contain keys or prompt text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeroute.chat import Attempt


class EdgerouteError(Exception):
    """Base error: carries the HTTP status, a stable machine-readable code and the OpenAI error type."""

    status: int = 500
    code: str = "internal_error"
    error_type: str = "server_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if error_type is not None:
            self.error_type = error_type
        self.param = param
        self.retry_after = retry_after
        # The fallback trail when the dispatcher raised this (every target tried, with why it failed).
        self.attempts: list[Attempt] = []

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def to_anthropic(self) -> dict[str, Any]:
        """The Anthropic error body: ``{"type": "error", "error": {"type", "message"}}``."""
        return {
            "type": "error",
            "error": {"type": anthropic_error_type(self.status), "message": self.message},
        }


def anthropic_error_type(status: int) -> str:
    """Anthropic names its error types by status class."""
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "billing_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        504: "timeout_error",
        529: "overloaded_error",
    }.get(status, "api_error" if status >= 500 else "invalid_request_error")


class InvalidRequest(EdgerouteError):
    status = 400
    code = "invalid_request"
    error_type = "invalid_request_error"


class ContextLengthExceeded(InvalidRequest):
    code = "context_length_exceeded"


class ModelNotFound(EdgerouteError):
    status = 404
    code = "model_not_found"
    error_type = "invalid_request_error"


class MissingApiKey(EdgerouteError):
    status = 401
    code = "missing_api_key"
    error_type = "authentication_error"


class BudgetExceeded(EdgerouteError):
    status = 402
    code = "budget_exceeded"
    error_type = "insufficient_quota"


class RateLimited(EdgerouteError):
    status = 429
    code = "rate_limited"
    error_type = "rate_limit_error"


class LocalError(EdgerouteError):
    status = 500
    code = "local_error"


class LocalBusy(LocalError):
    status = 503
    code = "local_busy"


class LocalModelCrashed(LocalError):
    status = 502
    code = "local_model_crashed"


class InsufficientMemory(LocalError):
    status = 503
    code = "insufficient_memory"


class UnsupportedByModel(LocalError):
    status = 400
    code = "unsupported_by_model"
    error_type = "invalid_request_error"


class UpstreamError(EdgerouteError):
    """One cloud attempt failed; ``upstream_status`` is the provider's HTTP status when there was one."""

    status = 502
    code = "upstream_error"

    def __init__(self, message: str, *, upstream_status: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.upstream_status = upstream_status


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class UpstreamConnectError(UpstreamError):
    code = "upstream_unreachable"


class UpstreamRateLimited(UpstreamError):
    status = 429
    code = "upstream_rate_limited"
    error_type = "rate_limit_error"


class AllTargetsFailed(EdgerouteError):
    status = 502
    code = "all_targets_failed"


class ConfigError(Exception):
    """A config file or override is invalid; ``str()`` is the user-facing ``file: key: reason`` report."""
