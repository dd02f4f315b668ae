"""Errors a user can act on. The CLI prints their message on one line and exits 1."""


class RagError(Exception):
    """Base class: the message says what went wrong and what to do."""


class CorpusError(RagError):
    pass


class IndexError_(RagError):
    pass


class ModelError(RagError):
    pass


class QuestionError(RagError):
    pass


class BackendUnavailable(RagError):
    """A served backend (LLM server, database) is not answering: worth retrying later."""


class UnknownDocument(QuestionError):
    """A question restricted to a document the index does not have (the server's 404)."""
