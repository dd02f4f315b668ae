"""The plain OpenAI API's reader, piece by piece: the reply's label taken off a stream, the
answer's first step found among the tokens, and each sentence's start mass read from token texts.
The real model behind a plain server reads in tests/generation/test_served_reader.py."""

import math

import pytest

from rag.generation.served_openai import Label, first_step, start_mass


@pytest.mark.parametrize("prefix, pieces, answer, streamed", [
    ("Answer:", ["Answer", ":", " November", " 9"], "November 9", ["November", " 9"]),
    ("Answer:", ["Ans", "wer: Nov", "ember 9"], "November 9", ["Nov", "ember 9"]),
    ("Answer:", ["November", " 9"], "November 9", ["November", " 9"]),  # no label written
    ("Answer:", [" Answer", ":", " ", "None"], "None", ["None"]),
    ("Answer:", ["An", "swers", " vary"], "Answers vary", ["Answers", " vary"]),  # a label's start, not it
    ("Answer:", ["Answer"], "Answer", ["Answer"]),  # ended while it could have been the label
    ("Answer: The sentence that tells is:", ["Answer", ": The", " sentence that tells is:", " Putin signed"],
     "Putin signed", ["Putin signed"]),
    ("Answer: The sentence that tells is:", ["Answer: The", " treaty"], "The treaty", ["The treaty"]),
    ("", ["Putin"], "Putin", ["Putin"]),
])
def test_the_label_is_taken_off_and_never_streamed(prefix, pieces, answer, streamed):
    out: list[str] = []
    label = Label(prefix, out.append)
    for piece in pieces:
        label.feed(piece)
    label.close()
    assert label.answer == answer
    assert "".join(out).strip() == answer and out == streamed


def step(token: str, *top: tuple[str, float]) -> dict:
    return {"token": token, "logprob": 0.0, "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in top]}


@pytest.mark.parametrize("steps, start, first", [
    ([step("Answer"), step(":"), step(" May", (" May", 0.7), (" None", 0.2))], 7, " May"),
    ([step("Answer"), step(":"), step(" "), step("May", ("May", 0.9))], 7, "May"),  # a bare space is no step
    ([step("May", ("May", 0.9))], 0, "May"),  # no label
    ([step("Answer"), step(":")], 7, None),  # nothing after the label
])
def test_the_first_step_is_the_first_visible_token_past_the_label(steps, start, first):
    top = first_step(steps, start)
    assert (top[0][0] if top else None) == first


@pytest.mark.parametrize("top, masses, total", [
    # " May" begins a phrase of the first text; " None" the last; " 9" only the second's word "9".
    ([(" May", 0.5), (" None", 0.2), (" 9", 0.1)], [0.5, 0.1, 0.2], 0.8),
    ([(" ay", 0.5)], [0.0, 0.0, 0.0], 0.0),  # inside a word: begins no phrase
    ([(" No", 0.3)], [0.0, 0.3, 0.3], 0.3),  # "November" and "None" both begin with it: counted once in all
    ([(" ", 0.4), ("", 0.1)], [0.0, 0.0, 0.0], 0.0),
])
def test_start_mass_counts_tokens_that_begin_a_phrase_at_a_word_start(top, masses, total):
    got, got_total = start_mass(top, ["It opened in May 2015.", "It closed on November 9.", "None"])
    assert got == pytest.approx(masses) and got_total == pytest.approx(total)


def scripted_server(listed: list[str], seen: list[dict], logprobs: bool = True):
    """A plain OpenAI server (no /props) that lists `listed` and takes chat turns (refusing
    `logprobs` unless `logprobs`)."""
    import json

    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": m} for m in listed]})
        if request.url.path == "/v1/chat/completions":
            seen.append(json.loads(request.content))
            if seen[-1].get("logprobs") and not logprobs:
                return httpx.Response(400, json={"error": {"message": "logprobs is not supported for this model"}})
            step = {"token": "OK", "logprob": 0.0, "top_logprobs": [{"token": "OK", "logprob": 0.0}]}
            return httpx.Response(200, json={"choices": [{"message": {"content": "OK"}, "logprobs": {"content": [step]}}]})
        return httpx.Response(404, json={"error": {"message": "not found"}})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("listed, asked, named, error", [
    (["qwen-7b"], None, "qwen-7b", None),  # the only one listed
    (["gpt-a", "gpt-b"], "gpt-b", "gpt-b", None),
    (["gpt-a", "gpt-b"], None, None, "serves 2 models (gpt-a, gpt-b): choose one with --llm-model"),
    (["gpt-a", "gpt-b"], "gpt-c", None, "does not serve 'gpt-c'; it lists: gpt-a, gpt-b"),
    ([], "mine", "mine", None),  # a server that lists nothing: taken at its word
])
def test_the_model_a_plain_server_is_asked_for(listed, asked, named, error):
    from rag.errors import ModelError
    from rag.generation.served import ServedGenerator

    seen: list[dict] = []
    transport = scripted_server(listed, seen)
    if error:
        with pytest.raises(ModelError, match=error.replace("(", r"\(").replace(")", r"\)")):
            ServedGenerator("http://llm.test/v1", model=asked, transport=transport)
        return
    gen = ServedGenerator("http://llm.test/v1", model=asked, transport=transport)
    assert gen.model_id == named and gen.chat and gen.choose
    assert seen and all(body.get("model") == named for body in seen)


def test_a_chat_model_without_logprobs_is_a_chat_model_but_not_a_reader():
    """Without the first step's probabilities the reader has no judgement of answerability: the
    model writes answers, verified claim by claim, as any chat model does."""
    from rag.generation.served import ServedGenerator

    seen: list[dict] = []
    gen = ServedGenerator("http://llm.test/v1", transport=scripted_server(["m"], seen, logprobs=False))
    assert gen.chat and not gen.choose and not gen.first_step_probs
    assert [bool(body.get("logprobs")) for body in seen] == [True, False]
