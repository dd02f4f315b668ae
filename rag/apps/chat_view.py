"""How `rag chat` shows things: rich (streaming, coloured citations) on a terminal, plain
lines when output is piped or --plain is given."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterable

from ..types import Answer
from . import render


class PlainView:
    """Line-oriented output for scripts: the final, verified answer only (no partial text)."""

    def __init__(self, out=None, err=None, echo: bool = True):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.echo = echo

    def _print(self, text: str, err: bool = False) -> None:
        stream = self.err if err else self.out
        print(text, file=stream, flush=True)

    def loading(self, text: str):
        self._print(f"{text}…", err=True)
        return contextlib.nullcontext()

    def info(self, text: str) -> None:
        self._print(text)

    def ready(self, text: str) -> None:  # status, not output: keep stdout to answers for scripts
        self._print(text, err=True)

    def error(self, text: str) -> None:
        self._print(f"error: {text}", err=True)

    def question(self, text: str) -> None:
        if self.echo:
            self._print(f"> {text}")

    def start_answer(self) -> None: ...

    def token(self, text: str) -> None: ...

    def stop_answer(self) -> None: ...

    def answer(self, answer: Answer, verbose: bool) -> None:
        if verbose:
            self._print("\n".join(render.details(answer)), err=True)
        self._print("\n".join(render.lines(answer)))
        self._print("")

    def rows(self, title: str, rows: Iterable[tuple[str, str, str]]) -> None:
        self._print(title)
        for sid, note, text in rows:
            self._print(f"  [{sid}] ({note}) {text}")


class RichView:
    """Terminal output: the answer streams as it is generated, then is replaced by the
    verified answer with its citations laid out under it."""

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self._live = None
        self._text = None

    def loading(self, text: str):
        return self.console.status(f"{text}…", spinner="dots")

    def info(self, text: str) -> None:
        self.console.print(text, style="dim", markup=False)

    def ready(self, text: str) -> None:
        self.info(text)

    def error(self, text: str) -> None:
        self.console.print(f"error: {text}", style="bold red", markup=False)

    def question(self, text: str) -> None: ...

    def start_answer(self) -> None:
        from rich.live import Live
        from rich.text import Text

        self._text = Text("", style="italic")
        self._live = Live(self._text, console=self.console, transient=True, refresh_per_second=20)
        self._live.start()

    def token(self, text: str) -> None:
        if self._live is not None:
            self._text.append(text)
            self._live.refresh()

    def stop_answer(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _marked(self, text: str):
        from rich.text import Text

        out = Text()
        for piece, is_marker in render.marked(text):
            out.append(piece, style="bold cyan" if is_marker else None)
        return out

    def answer(self, answer: Answer, verbose: bool) -> None:
        from rich.table import Table
        from rich.text import Text

        body = self._marked(answer.answer)
        if answer.abstained:
            body.stylize("yellow")
        self.console.print(body)
        title, shown = render.rows(answer)
        rows = [(row.id, row.text, f"{row.where} · {row.score:.2f}" + (" attached" if row.source == "attached" else ""))
                for row in shown]
        if rows:
            table = Table(title=title, title_justify="left", title_style="dim", show_header=False,
                          box=None, padding=(0, 1), expand=False)
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column(overflow="fold")
            table.add_column(style="dim", no_wrap=True)
            for sid, text, score in rows:  # Text(): document text is never read as rich markup
                table.add_row(Text(f"[{sid}]"), Text(text), Text(score))
            self.console.print(table)
        if render.status(answer):
            self.console.print(render.status(answer), style="dim", markup=False)
        if verbose:
            self.console.print("\n".join(render.details(answer)), style="dim", markup=False)
        self.console.print()

    def rows(self, title: str, rows: Iterable[tuple[str, str, str]]) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(title), title_justify="left", show_header=False, box=None, padding=(0, 1))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        for sid, note, text in rows:
            table.add_row(Text(f"[{sid}]"), Text(note), Text(text), style="bold" if note == "cited" else None)
        self.console.print(table)
