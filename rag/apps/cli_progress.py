"""Progress of long work (embedding) on stderr: a rich bar with the time left on a terminal, a
plain line every 10 % with the rate and time left in logs and pipes."""

from __future__ import annotations

import time

import typer


def progress_printer():
    """A rich progress bar on stderr for long work (embedding), silent when nothing is long."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = stderr_console()
    if not console.is_terminal:  # logs and pipes: a plain line every 10 %, not a redrawn bar
        shown: dict[tuple[str, int], int] = {}
        started: dict[tuple[str, int], float] = {}

        def plain(label: str, done: int, total: int):
            key = (label, total)
            now = time.monotonic()
            started.setdefault(key, now)
            step = done * 10 // max(total, 1)
            if step > shown.get(key, -1):
                shown[key] = step
                rate = done / (now - started[key]) if done and now > started[key] else 0.0
                eta = f", {(total - done) / rate:.0f} s left at {rate:.0f}/s" if rate and done < total else ""
                typer.echo(f"embedding {label}: {done}/{total}{eta}", err=True)

        return plain
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _rate_column(),
                   TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console, transient=True)
    tasks: dict[str, int] = {}

    def update(label: str, done: int, total: int):
        if not bar.live.is_started:
            bar.start()
        if label not in tasks:
            tasks[label] = bar.add_task(f"embedding {label}", total=total)
        bar.update(tasks[label], completed=done)
        if all(t.finished for t in bar.tasks):
            bar.stop()

    return update


def _rate_column():
    """Items per second, over all workers (the bar counts what came back, whoever embedded it)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:.0f}/s" if task.speed else "", style="progress.data.speed")

    return Rate()


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)
