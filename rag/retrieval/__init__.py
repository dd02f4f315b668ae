"""Finding the evidence: follow-up rewriting, hybrid dense + BM25 retrieval, and reranking by
query likelihood."""
