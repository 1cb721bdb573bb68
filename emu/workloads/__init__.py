"""goemu's workloads: the suite of programs runnable by name (``registry``)
and the generated repeated-leak program of ``goemu plot`` and the benchmarks."""
from .leak import repeated_leak
from .registry import SIZES, WORKLOADS, Param, Workload, get, parse_params

__all__ = ["SIZES", "WORKLOADS", "Param", "Workload", "get", "parse_params", "repeated_leak"]
