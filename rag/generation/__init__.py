"""Text generation behind one interface: llama.cpp in process (with its preload and saved KV
states) or an OpenAI-compatible server."""
