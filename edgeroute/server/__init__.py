"""The HTTP daemon: ``create_app(settings)`` builds everything; nothing lives at module level."""

from edgeroute.server.app import create_app

__all__ = ["create_app"]
