"""The side-by-side benchmark: jaxgd against a bare JAX loop, a Python loop, NumPy, PyTorch.

``run_bench(workloads=("W1", "W2", "W3", "W4"), repeats=5)`` measures every
implementation of each workload in this one process (see `timing`), adds the
end-to-end and memory checks of `jaxgd train` (see `endtoend`), and returns a
JSON-able dict; `report.markdown` renders it as tables.
"""

from jaxgd.benchmark.run import WORKLOADS, machine, run_bench

__all__ = ["WORKLOADS", "machine", "run_bench"]
