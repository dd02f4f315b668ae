"""Finding the evidence: follow-up rewriting and hybrid dense + BM25 retrieval."""
