"""Screens pushed over the dashboard: daemon not running, a request's details, the pull dialog."""
