"""`rag chat`: the interactive session. State and commands live in `ChatSession`; how text
reaches the screen lives in a view (rich for terminals, plain lines for pipes and --plain)."""

from __future__ import annotations

import re
import sys
import time
from typing import ContextManager, Iterable, Protocol

from ..errors import RagError
from ..pipeline import Assistant
from ..types import SENTENCE_ID, Answer

HELP = """\
Ask a question about the documents, or use a command:
  /sources   the sentences retrieved for the last answer, with their scores
  /cite S12  a sentence with the sentences around it
  /reset     forget the conversation (follow-ups start afresh)
  /k N       use N evidence sentences per question
  /help      this text
  /quit      leave (Ctrl-D works too); Ctrl-C stops an answer while it is written"""

CITE = re.compile(rf"^/cite\s+\[?({SENTENCE_ID})\]?\s*$", re.I)


class View(Protocol):
    def loading(self, text: str) -> ContextManager: ...
    def info(self, text: str) -> None: ...
    def ready(self, text: str) -> None: ...
    def error(self, text: str) -> None: ...
    def question(self, text: str) -> None: ...
    def start_answer(self) -> None: ...
    def token(self, text: str) -> None: ...
    def stop_answer(self) -> None: ...
    def answer(self, answer: Answer, verbose: bool) -> None: ...
    def rows(self, title: str, rows: Iterable[tuple[str, str, str]]) -> None: ...


class ChatSession:
    """One conversation with the assistant. `handle` takes one input line; False means quit."""

    def __init__(self, assistant: Assistant, view: View, *, k: int | None = None, verbose: bool = False,
                 documents: list[str] | None = None):
        self.assistant = assistant
        self.view = view
        self.k = k
        self.documents = documents
        self.verbose = verbose
        self.history: list[tuple[str, str]] = []
        self.last: Answer | None = None

    def handle(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self.command(line)
        self.view.question(line)
        self.view.start_answer()
        try:
            answer = self.assistant.ask(line, history=self.history, k=self.k, on_token=self.view.token,
                                        documents=self.documents)
        except KeyboardInterrupt:
            self.view.stop_answer()
            self.view.info("(stopped)")
            return True
        except RagError as exc:
            self.view.stop_answer()
            self.view.error(str(exc))
            return True
        self.view.stop_answer()
        self.last = answer
        self.history.append((answer.standalone or line, answer.answer))
        self.view.answer(answer, self.verbose)
        return True

    def command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("/quit", "/exit", "/q"):
            return False
        if name == "/help":
            self.view.info(HELP)
        elif name == "/reset":
            self.history.clear()
            self.last = None
            self.view.info("Conversation forgotten.")
        elif name == "/k":
            if not arg.isdigit() or not 1 <= int(arg) <= 50:
                self.view.error("usage: /k N, with N from 1 to 50")
            else:
                self.k = int(arg)
                self.view.info(f"Using {self.k} evidence sentences per question.")
        elif name == "/sources":
            if self.last is None:
                self.view.info("No answer yet: ask a question first.")
            else:
                self.view.rows(f"Retrieved for: {self.last.standalone or self.last.question}",
                               [(p.id, f"fused {p.score:.4f} · cosine {p.dense:.2f} · bm25 {p.bm25:.2f}", p.text)
                                for p in self.last.retrieved])
        elif name == "/cite":
            match = CITE.match(line)
            if not match:
                self.view.error("usage: /cite S12")
            else:
                self.cite(match.group(1).upper())
        else:
            self.view.error(f"unknown command {name}: type /help")
        return True

    def cite(self, sid: str) -> None:
        store = self.assistant.store
        if sid not in store.by_id:
            self.view.error(f"there is no sentence {sid} (the documents have S1 to S{len(store.sentences)})")
            return
        pos = store.position[sid]
        sentence = store.by_id[sid]
        around = [s for s in store.sentences[max(0, pos - 1): pos + 2] if s.doc == sentence.doc]
        self.view.rows(f"{sid} in {sentence.doc}, characters {sentence.start}-{sentence.end}",
                       [(s.id, "cited" if s.id == sid else "context", s.text) for s in around])


def read_lines(interactive: bool, history_path) -> Iterable[str]:
    """Lines typed at a prompt (editing, history across sessions, pasted newlines) or piped in."""
    if not interactive:
        for line in sys.stdin:
            yield line.rstrip("\n")
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history_path.parent.mkdir(parents=True, exist_ok=True)
    prompt = PromptSession(history=FileHistory(str(history_path)))
    while True:
        try:
            # A paste with newlines arrives as one bracketed paste: it becomes one question.
            yield prompt.prompt("› ")
        except KeyboardInterrupt:  # at the prompt, Ctrl-C clears the line, like a shell
            continue
        except EOFError:
            return


def run(assistant: Assistant, view: View, lines: Iterable[str], *, k=None, verbose=False, documents=None) -> None:
    session = ChatSession(assistant, view, k=k, verbose=verbose, documents=documents)
    t0 = time.perf_counter()
    with view.loading("loading models and index"):
        assistant.load()
    view.ready(f"Ready in {time.perf_counter() - t0:.1f} s. Ask about the documents; /help lists commands.")
    for line in lines:
        try:
            if not session.handle(line):
                return
        except KeyboardInterrupt:
            view.info("(stopped)")
