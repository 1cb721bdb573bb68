"""Cycle model: cost data per core, block costs, branch prediction, caches, accounting."""
