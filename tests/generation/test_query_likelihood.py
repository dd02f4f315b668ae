"""Query-likelihood reranking with the real gemma-3-270m weights, and its place in the pipeline."""

import numpy as np
import pytest

from rag import prompts
from rag.generation.query_likelihood import QueryLikelihood

TEMPLATE = "Passage: {sentence} Please write a question based on this passage.\nQuestion: {question}"


@pytest.fixture(scope="module")
def reranker(assistant):
    return QueryLikelihood(assistant.generator.llm, TEMPLATE, n_threads=2, max_candidates=4)


# Sentences outside the article, so the ranking is the method's, not something tuned to the eval.
@pytest.mark.parametrize(
    "question, answer, distractors",
    [
        ("When was the bridge opened?", "The bridge was opened by the mayor in 1932.",
         ["The river floods almost every spring.", "The mayor was elected twice by a wide margin."]),
        ("Who painted the ceiling of the chapel?", "The chapel's ceiling was painted by Anna Berg.",
         ["The chapel is closed on Mondays.", "Tickets cost twelve euros for adults."]),
        ("How many people live in the town?", "About 4,000 people live in the town today.",
         ["The town has a railway station.", "Its football club was founded in 1921."]),
    ],
)
def test_the_answering_sentence_scores_highest(reranker, content_reranker, question, answer, distractors):
    for scorer in (reranker, content_reranker):
        scores = scorer.score(question, distractors + [answer])
        assert int(np.argmax(scores)) == len(distractors)


@pytest.fixture(scope="module")
def content_reranker(assistant):
    from rag.lang import en

    return QueryLikelihood(assistant.generator.llm, TEMPLATE, n_threads=2, max_candidates=4, skip_words=en.STOPWORDS)


def test_function_words_are_not_scored(reranker, content_reranker, assistant):
    asked = assistant.generator.llm.tokenize(b" When was the bridge opened?", add_bos=False)
    kept = content_reranker._content(asked)
    pieces = [assistant.generator.llm.detokenize([asked[j]]).decode().strip().lower() for j in sorted(kept)]
    assert "when" not in pieces and "the" not in pieces and "bridge" in pieces
    assert reranker._content(asked) == set(range(len(asked)))


def test_scores_match_the_full_logits_computation(assistant, reranker):
    # Reference: llama-cpp-python's logits_all path, the slow way the batch replaces.
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(assistant.generator.path), n_ctx=512, n_batch=128,
                          logits_all=True, n_threads=2, verbose=False)
    question = "When was the bridge opened?"
    sentences = ["The bridge was opened by the mayor in 1932.", "The river floods almost every spring."]
    expected = []
    for sentence in sentences:
        given = llm.tokenize(TEMPLATE.split(" {question}")[0].replace("{sentence}", sentence).encode(), add_bos=True)
        asked = llm.tokenize(b" " + question.encode(), add_bos=False)
        llm.reset()
        llm.eval(given + asked)
        logits = np.asarray(llm.scores[len(given) - 1: len(given) + len(asked) - 1], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        expected.append(float((logits[np.arange(len(asked)), asked] - log_z).mean()))
    # One batch of several sequences vs one at a time: float rounding differs slightly.
    assert reranker.score(question, sentences) == pytest.approx(expected, abs=0.1)


def test_scoring_leaves_the_generator_cache_alone(assistant, reranker):
    prompt = "The capital of France is"
    first = assistant.generator.generate(prompt, max_tokens=6).text
    reranker.score("What is the capital of France?", ["Paris is the capital of France."])
    assert assistant.generator.generate(prompt, max_tokens=6).text == first


@pytest.mark.parametrize(
    "template, message",
    [
        ("Passage: {sentence}", "needs"),
        ("Question: {question}", "needs"),
        ("Question: {question} Passage: {sentence}", "end with"),
    ],
)
def test_bad_templates_are_refused(assistant, template, message):
    with pytest.raises(ValueError, match=message):
        QueryLikelihood(assistant.generator.llm, template, n_threads=1)


def test_limits_and_empty_input(reranker):
    assert reranker.score("Anything?", []) == []
    with pytest.raises(ValueError, match="at most 4"):
        reranker.score("Anything?", [f"Sentence {i}." for i in range(5)])


def test_shipped_template_is_the_one_tested(settings):
    assert prompts.load_template(settings.prompts_dir, "rerank").rstrip("\n") == TEMPLATE


class ReverseReranker:
    """Prefers the lowest-ranked candidate, so the test can see whose choice wins."""

    def __init__(self):
        self.calls = []

    def score(self, question, sentences):
        self.calls.append(list(sentences))
        return [float(i) for i in range(len(sentences))]


def test_the_pipeline_answers_from_the_reranked_sentence(assistant, scripted):
    rerank = ReverseReranker()
    fake, gen = scripted("", reranker=rerank)
    answer = fake.ask("Which bodies of the Russian parliament approved the treaty?")
    assert len(rerank.calls) == 1 and len(rerank.calls[0]) >= 2
    chosen = rerank.calls[0][-1]
    assert answer.citations[0].text == chosen  # the empty reply falls back to quoting it
    assert gen.prompts and "rerank_s" in answer.timings


def test_rerank_off_keeps_retrieval_order(assistant, scripted):
    rerank = ReverseReranker()
    fake, _ = scripted("", rerank=False, reranker=rerank)
    answer = fake.ask("Which bodies of the Russian parliament approved the treaty?")
    assert rerank.calls == [] and "rerank_s" not in answer.timings


def test_a_who_question_is_answered_from_a_sentence_naming_a_person(assistant):
    # Query likelihood alone preferred "The agreement signifies a fortified relationship…".
    answer = assistant.ask("Who signed the agreement?")
    assert not answer.abstained
    assert "Kim Jong-un" in answer.citations[0].text and "Putin" in answer.answer
    # The scores behind the choice travel with the answer (rag ask --json / --verbose).
    assert len(answer.rerank) >= 2 and set(answer.rerank) <= {p.id for p in answer.retrieved}
    assert answer.to_dict()["rerank"].keys() == answer.rerank.keys()


def test_cached_sentences_score_as_when_fresh(assistant):
    # Two sequences only: the third sentence evicts the least recently used one.
    small = QueryLikelihood(assistant.generator.llm, TEMPLATE, n_threads=2, max_candidates=2, cache_sequences=2)
    question = "When was the bridge opened?"
    a, b, c = ("The bridge was opened by the mayor in 1932.", "The river floods almost every spring.",
               "The mayor was elected twice by a wide margin.")
    fresh = small.score(question, [a, b])
    # From the cache: batch shapes differ, so float rounding does too (as in the reference test).
    assert small.score(question, [a, b]) == pytest.approx(fresh, abs=0.1)
    assert small.score(question, [c, a]) == pytest.approx([small.score(question, [c])[0], fresh[0]], abs=0.1)
    assert len(small._cached) == 2 and b not in small._cached
    again = small.score("How often does the river flood?", [b, b])  # a repeat scores once
    assert again[0] == again[1]


def test_long_inputs_are_bounded(reranker):
    run_on = " ".join(["the committee met again and talked"] * 300)
    scores = reranker.score("What did the committee do? " * 100, [run_on, "The committee met on Monday."])
    assert len(scores) == 2 and all(np.isfinite(scores))


class BrokenReranker:
    def score(self, question, sentences):
        raise RuntimeError("llama_decode returned -1")


def test_a_failing_reranker_falls_back_to_retrieval_order(scripted):
    warnings = []
    fake, _ = scripted("", reranker=BrokenReranker(), notify=warnings.append)
    answer = fake.ask("Which bodies of the Russian parliament approved the treaty?")
    assert not answer.abstained and answer.citations
    assert fake.reranker is None and "reranking is off" in warnings[0]


@pytest.mark.parametrize(
    "rows, tokens",
    [
        ([[0.0, 0.0, 0.0, 0.0]], [2]),  # uniform: log 1/4
        ([[30.0, -30.0, 0.0, 29.9]], [0]),  # soft-capped extremes: nothing overflows
        ([[30.0, -30.0, 0.0, 29.9]], [1]),
        ([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], [2, 2]),  # rows are independent
    ],
)
def test_log_probs_match_a_float64_log_softmax(rows, tokens):
    from rag.generation.query_likelihood import log_probs

    logits = np.asarray(rows, dtype=np.float32)
    wide = np.asarray(rows, dtype=np.float64)
    expected = [row[t] - np.log(np.exp(row).sum()) for row, t in zip(wide, tokens)]
    assert log_probs(logits, tokens) == pytest.approx(expected, abs=1e-5)


def test_log_probs_on_a_gemma_wide_row():
    from rag.generation.query_likelihood import log_probs

    logits = np.random.default_rng(0).normal(0, 4, size=(3, 262_144)).astype(np.float32)
    wide = logits.astype(np.float64)
    expected = [wide[i, 7 * i] - np.log(np.exp(wide[i]).sum()) for i in range(3)]
    assert log_probs(logits, [0, 7, 14]) == pytest.approx(expected, abs=1e-4)


def test_a_question_with_one_candidate_never_builds_the_reranker(assistant):
    from rag.pipeline import Assistant
    from tests.conftest import ScriptedGenerator

    class Counting(ScriptedGenerator):
        built = 0

        def query_likelihood(self, template, **options):
            Counting.built += 1
            return ReverseReranker()

    fake = Assistant(assistant.settings.with_(min_confidence=0.0), generator=Counting(copy_spans=True),
                     embedder=assistant.embedder, retriever=assistant.retriever)
    single = fake.ask("When did Putin give final approval to the treaty?")
    assert "rerank_s" not in single.timings and Counting.built == 0
    several = fake.ask("Which bodies of the Russian parliament approved the treaty?")
    assert "rerank_s" in several.timings and Counting.built == 1


def test_a_score_does_not_depend_on_where_the_sentence_state_came_from(assistant, tmp_path):
    """Just prefilled, kept from an earlier question, or read from disk by a later process:
    the same question over the same sentences scores the same (a cold `rag ask` and a long
    chat must rank alike)."""
    question = "When was the bridge opened?"
    sentences = ["The bridge was opened by the mayor in 1932.", "The river floods almost every spring.",
                 "Tickets cost twelve euros for adults."]
    first = QueryLikelihood(assistant.generator.llm, TEMPLATE, n_threads=2, max_candidates=4, saved_states=tmp_path)
    fresh = first.score(question, sentences)
    assert len(list(tmp_path.glob("*.kv"))) == 3  # one state per sentence
    assert first.score(question, sentences) == fresh  # kept in memory
    first.score("Who painted the ceiling?", ["The chapel's ceiling was painted by Anna Berg."])
    later = QueryLikelihood(assistant.generator.llm, TEMPLATE, n_threads=2, max_candidates=4, saved_states=tmp_path)
    assert later.score(question, sentences[::-1]) == fresh[::-1]  # read back, in another order
    for path in tmp_path.glob("*.kv"):
        path.write_bytes(b"damaged")
    damaged = QueryLikelihood(assistant.generator.llm, TEMPLATE, n_threads=2, max_candidates=4, saved_states=tmp_path)
    assert damaged.score(question, sentences) == fresh  # a bad file is a miss, never a wrong state
