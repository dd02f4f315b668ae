"""`python -m rag`: the `rag` command, for when the console script is not on PATH."""

from .apps.cli import main

main()
