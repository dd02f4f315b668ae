"""Measuring rag: the eval harness (`rag eval`) and the benchmarks (`rag bench`)."""
