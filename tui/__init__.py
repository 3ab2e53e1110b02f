"""The Textual dashboard, installed as ``edgeroute.tui`` (never as a top-level ``tui`` package)."""
