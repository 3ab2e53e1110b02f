"""The Textual dashboard, installed as ``edgeroute.tui`` (never as a top-level ``tui`` package).

``create_app(TuiSettings(url=...))`` builds it; it talks to the daemon only through its HTTP API."""
