"""Sentence vectors from all-MiniLM-L6-v2: the numpy encoder for questions, onnxruntime for
documents, sentence-transformers as the reference, and the laid-out weights' cache."""
