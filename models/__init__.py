"""Data shipped inside the wheel as ``edgeroute.data``: the model catalog, cloud prices and the trained
router artifact. Read it with ``importlib.resources.files("edgeroute.data")``."""
