"""What people run: the `rag` command, `rag chat`, the OpenAI-compatible server. They parse, call
`rag.Assistant` and print; no logic of their own."""
