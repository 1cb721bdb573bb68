"""The dead-root detector (``goemu leaks``): root words that keep objects alive
although the program never reads them again.  See core.py for how."""
from .core import (Access, CollectionResult, LeaksResult, LocationSummary, ReplayDiverged, RootHit,
                   RootVerdict, find_dead_roots, leaks, retained, root_hits)

__all__ = ["Access", "CollectionResult", "LeaksResult", "LocationSummary", "ReplayDiverged", "RootHit",
           "RootVerdict", "find_dead_roots", "leaks", "retained", "root_hits"]
