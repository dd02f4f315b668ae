"""Where an index lives: FAISS files in a directory or PostgreSQL + pgvector, behind one small
vector-search interface."""
