"""Wire formats at the HTTP edge: each module translates one client protocol to and from the internal
types in :mod:`edgeroute.chat`. Non-streaming responses are built by collecting the stream."""
