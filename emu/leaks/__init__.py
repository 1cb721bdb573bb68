"""The dead-root detector (``goemu leaks``): root words that keep objects alive
although the program never reads them again.  See core.py for how."""
from .core import LeaksResult, find_dead_roots, leaks

__all__ = ["LeaksResult", "find_dead_roots", "leaks"]
