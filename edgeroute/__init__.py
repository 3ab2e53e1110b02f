"""edgeroute: a local/cloud LLM router that runs small GGUF models on your machine.

Heavy dependencies (llama_cpp, fastapi, textual) are imported lazily by the modules that need them,
so importing this package and running ``edgeroute --help`` stays instant.
"""

__version__ = "0.1.0"
