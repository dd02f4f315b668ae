"""Text generation behind one interface: llama.cpp in process (with its preload, saved KV states,
logits processors and query-likelihood scoring) or an OpenAI-compatible server."""
