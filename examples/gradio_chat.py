"""A chat front end in the same process: Gradio's ChatInterface over `rag.Assistant`, each answer
followed by the sentences it cites and where they are.

    .venv/bin/pip install gradio
    .venv/bin/python examples/gradio_chat.py        # http://127.0.0.1:7860/
"""

from __future__ import annotations

import os
import re

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage pings

import gradio as gr  # noqa: E402

from rag import Assistant  # noqa: E402
from rag.apps import render as shown  # noqa: E402
from rag.types import Answer  # noqa: E402


def literal(text: str) -> str:
    """Document text shown as written: Markdown and HTML characters in it are escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~])", r"\\\1", text)


def render(answer: Answer) -> str:
    """The answer, then each cited sentence with its document, page and section."""
    title, rows = shown.rows(answer)
    lines = [literal(answer.answer), ""]
    if rows and not answer.citations:
        lines.append(f"*{title}:*")
    lines += [f"> **[{row.id}]** {literal(row.text)}  \n> *{literal(row.where)}*\n" for row in rows]
    if shown.status(answer):
        lines.append(f"*{literal(shown.status(answer))}*")
    return "\n".join(lines).strip()


def turns(history: list[dict]) -> list[tuple[str, str]]:
    """Gradio's message history as the (question, answer) pairs `Assistant.ask` resolves follow-ups with."""
    pairs, question = [], None
    for message in history:
        content = message.get("content")
        text = content if isinstance(content, str) else " ".join(
            part.get("text", "") for part in content or [] if isinstance(part, dict))
        if message.get("role") == "user":
            question = text
        elif message.get("role") == "assistant" and question is not None:
            pairs.append((question, text))
            question = None
    return pairs


def build(assistant: Assistant) -> gr.ChatInterface:
    def respond(message: str, history: list[dict]) -> str:
        return render(assistant.ask(message, history=turns(history)))

    return gr.ChatInterface(respond, title="rag · cited answers", analytics_enabled=False,
                            description="Answers from the indexed documents; every claim cites its sentences.")


if __name__ == "__main__":
    build(Assistant().load()).launch(server_name="127.0.0.1")
