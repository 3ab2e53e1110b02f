"""The cloud tier: provider kinds (OpenAI-compatible, Anthropic Messages), the pooled clients, retries and
health. See :mod:`edgeroute.providers.base` for the provider contract and :mod:`edgeroute.dispatch` for
fallback chains."""

from edgeroute.providers.base import CloudProvider, ProviderFactory, target_label
from edgeroute.providers.health import HealthBoard, HealthPolicy, Unavailable
from edgeroute.providers.pool import CloudPool, endpoint_of
from edgeroute.providers.retry import RetryPolicy

__all__ = [
    "CloudPool",
    "CloudProvider",
    "HealthBoard",
    "HealthPolicy",
    "ProviderFactory",
    "RetryPolicy",
    "Unavailable",
    "endpoint_of",
    "target_label",
]
