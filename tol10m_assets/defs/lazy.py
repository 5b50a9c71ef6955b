"""Core modules imported on first use: loading the definitions (every run worker, step process and
code server does) stays free of pandas, DuckDB and NumPy until an asset needs them."""

import importlib.util
import sys


def lazy_module(name: str):
    """``name`` as a module object whose code runs on its first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
