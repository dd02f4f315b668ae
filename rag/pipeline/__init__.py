"""The one library object (`Assistant`) that the CLI, the server and the eval share.

`components.py` loads and keeps what answering needs (models, index, lock); `answer.py` is the
answer itself, as named steps; `assistant.py` is the public API over both.
"""

from .assistant import Assistant, clean_question

__all__ = ["Assistant", "clean_question"]
