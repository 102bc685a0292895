"""The version of jaxgd, importable without importing JAX (for `jaxgd --version`)."""

__version__ = "0.1.0"
