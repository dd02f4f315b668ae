"""`rag chat`: session logic with a scripted generator, the plain CLI with the real models,
and the real terminal experience driven through a pseudo-terminal."""

import io
import os
import re
import sys

import pytest
from typer.testing import CliRunner

from rag.apps.chat import ChatSession
from rag.apps.chat_view import PlainView
from rag.apps.cli import app


@pytest.fixture
def session(scripted):
    def make(*replies):
        # The model's own words stream and can be interrupted: the free answer mode generates always.
        assistant, gen = scripted(*replies, answer_mode="free")
        out, err = io.StringIO(), io.StringIO()
        return ChatSession(assistant, PlainView(out, err)), gen, out, err
    return make


@pytest.mark.parametrize("line, stdout_has, stderr_has", [
    ("/help", "/sources", ""),
    ("/k 3", "Using 3 evidence sentences", ""),
    ("/k 0", "", "usage: /k N"),
    ("/k many", "", "usage: /k N"),
    ("/sources", "No answer yet", ""),
    ("/cite S3", "[S2] (context)", ""),
    ("/cite [s3]", "[S3] (cited)", ""),
    ("/cite S999", "", "there is no sentence S999"),
    ("/cite", "", "usage: /cite S12"),
    ("/bogus", "", "unknown command /bogus"),
    ("/reset", "Conversation forgotten", ""),
])
def test_commands(session, line, stdout_has, stderr_has):
    chat, _, out, err = session()
    assert chat.handle(line) is True
    assert stdout_has in out.getvalue() and stderr_has in err.getvalue()


@pytest.mark.parametrize("line", ["/quit", "/exit", "/QUIT"])
def test_quit(session, line):
    chat, *_ = session()
    assert chat.handle(line) is False


def test_follow_up_is_rewritten_for_retrieval_and_reset_forgets(session):
    chat, gen, out, _ = session(" Putin and Kim Jong-un signed it.", " He ratified it on November 9.")
    chat.handle("Who signed the agreement?")
    chat.handle("When did he ratify it?")
    assert chat.last.question == "When did he ratify it?"
    assert chat.last.standalone == "When did Putin ratify the agreement?"
    assert "Question: When did Putin ratify the agreement?" in gen.prompts[-1]
    assert len(chat.history) == 2
    chat.handle("/reset")
    assert chat.history == [] and chat.last is None


def test_empty_and_oversized_input_keep_the_session(session):
    chat, gen, out, err = session()
    assert chat.handle("   ") is True and out.getvalue() == ""
    assert chat.handle("x " * 3000) is True
    assert "the limit is" in err.getvalue() and chat.history == []


def test_interrupt_stops_the_answer_and_the_session_goes_on(session):
    chat, gen, out, _ = session(" Putin signed it.")

    def interrupted(prompt, **kw):
        raise KeyboardInterrupt

    real = gen.generate
    gen.generate = interrupted
    chat.handle("Who signed the agreement?")
    assert "(stopped)" in out.getvalue() and chat.history == []
    gen.generate = real
    chat.handle("Who signed the agreement?")
    assert len(chat.history) == 1 and "[S" in chat.last.answer


def test_plain_chat_reads_questions_from_stdin(settings, assistant):
    assistant.retriever
    result = CliRunner().invoke(app, ["chat", "--plain", "--index-dir", str(settings.index_dir)],
                                input="When did Putin give final approval to the treaty?\n\n/sources\n"
                                      "What does the mutual defense clause oblige?\n/quit\nnever asked\n")
    assert result.exit_code == 0, result.output
    assert "> When did Putin give final approval" in result.stdout
    assert "militar" in result.stdout  # the untyped question's answer, copied by the model
    assert "November 9" in result.stdout and re.search(r"\[S\d+\] ", result.stdout)
    assert "Retrieved for:" in result.stdout
    assert "never asked" not in result.stdout


def test_chat_in_a_real_terminal(settings, assistant, tmp_path):
    """Streams, shows citations, resolves a follow-up, /sources, Ctrl-C mid-answer, /quit → 0."""
    pexpect = pytest.importorskip("pexpect")
    assistant.retriever
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path), PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm-256color", COLUMNS="120", LINES="40")
    # --answer-mode free: the model writes every answer, so there is a stream to watch and to interrupt.
    child = pexpect.spawn(sys.executable, ["-m", "rag", "chat", "--answer-mode", "free",
                                           "--index-dir", str(settings.index_dir)],
                          env=env, encoding="utf-8", timeout=90, dimensions=(40, 120))
    try:
        child.expect("Ready in")
        child.expect("›")
        child.sendline("Who signed the agreement?")
        child.expect(r"\x1b\[3m")  # the live, italic stream appears before the final answer
        child.expect("Cited sentences")
        child.expect(r"\[S\d+\]")
        child.expect("›")
        child.sendline("When did he ratify it?")
        child.expect("Cited sentences")
        child.expect("›")
        child.sendline("/sources")
        child.expect("Retrieved for: When did Putin ratify the agreement\\?")
        child.expect("›")
        child.sendline("What does the treaty's central provision say?")
        child.expect(r"\x1b\[3m\[S")  # generation has started
        child.sendintr()
        child.expect(r"\(stopped\)")
        child.expect("›")
        child.sendline("/cite S3")
        child.expect(r"\[S3\].*cited")
        child.expect("›")
        # a pasted question that spans lines arrives as one bracketed paste: one question
        child.send("\x1b[200~When did Putin give final\napproval to the treaty?\x1b[201~")
        child.send("\r")
        child.expect("Cited sentences")
        child.expect("November")
        child.expect("›")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "rag" / "chat_history").read_text().count("+When did he ratify it?") == 1
