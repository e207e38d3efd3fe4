"""Evaluation engine: embedding caches, the score cube, analysis, and `cabench run`."""
