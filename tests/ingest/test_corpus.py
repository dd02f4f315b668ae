import pytest
from hypothesis import given, settings as hsettings, strategies as st

from rag.errors import CorpusError
from rag.ingest import read as read_document
from rag.ingest.corpus import Document, make_chunks, paragraphs, split_sentences
from rag.lang import en
from rag.settings import BUNDLED_CORPUS


@pytest.fixture(scope="module")
def sentences():
    return split_sentences([read_document(BUNDLED_CORPUS)], en)


def test_article_splits_into_sentences_with_exact_offsets(sentences):
    text = BUNDLED_CORPUS.read_text(encoding="utf-8")
    assert len(sentences) == 43
    assert [s.id for s in sentences] == [f"S{i}" for i in range(1, 44)]
    for s in sentences:
        assert text[s.start : s.end] == s.text


@pytest.mark.parametrize(
    "ending",
    [
        "by all means at its disposal.”",  # sentence ends inside a curly quote
        "stand by Moscow “for as long as necessary.”",
    ],
)
def test_sentences_ending_inside_quotes_stay_whole(sentences, ending):
    matches = [s for s in sentences if s.text.endswith(ending)]
    assert len(matches) == 1
    # the next sentence starts with a capital, not with the closing quote
    nxt = sentences[sentences.index(matches[0]) + 1]
    assert nxt.text[0].isupper()


def test_boilerplate_is_never_a_sentence(sentences):
    assert not any("Leave a Reply" in s.text for s in sentences)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Smith met Mr. Jones in the U.S. on Monday. They talked.", 2),
        ("He said “stop.” She left.", 2),
        ("One line without a full stop", 1),
        ("Leave a Reply", 0),
    ],
)
def test_splitter_table(text, expected):
    assert len(split_sentences([Document("t.txt", None, text)], en)) == expected


def test_ids_are_stable_across_rebuilds():
    doc = read_document(BUNDLED_CORPUS)
    assert split_sentences([doc], en) == split_sentences([doc], en)


def test_chunks_are_whole_sentences_within_paragraphs(sentences):
    chunks = make_chunks(sentences, size=3, overlap=1)
    by_id = {s.id: s for s in sentences}
    covered = {sid for c in chunks for sid in c.sentence_ids}
    assert covered == set(by_id)
    for c in chunks:
        assert len({by_id[i].paragraph for i in c.sentence_ids}) == 1
        assert c.text == " ".join(by_id[i].text for i in c.sentence_ids)


@pytest.mark.parametrize(
    "content, message",
    [(None, "not found"), (b"", "empty"), (b"  \n\n ", "empty"), (b"\x00\x01binary", "binary")],
)
def test_bad_documents_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "doc.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        read_document(path)


def test_invalid_utf8_is_replaced_not_fatal(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_bytes("Caf\xe9 au lait is served. It is hot.".encode("latin-1"))
    assert len(split_sentences([read_document(path)], en)) == 2


text_st = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80),
        st.sampled_from(["Leave a Reply", "“Quoted.”", "Mr. X.", "\n", "\n\n", "  ", "U.S. ", "e.g. ", "?!"]),
    ),
    max_size=12,
).map("".join)


@hsettings(max_examples=150, deadline=None)
@given(text_st)
def test_every_character_is_in_one_sentence_or_removed(text):
    doc = Document("t.txt", None, text)
    sents = split_sentences([doc], en)
    owner = [None] * len(text)
    for s in sents:
        assert text[s.start : s.end] == s.text
        for i in range(s.start, s.end):
            assert owner[i] is None, "overlapping sentences"
            owner[i] = s.id
    kept = {i for ps, pe in paragraphs(text, en) for i in range(ps, pe)}
    for i, ch in enumerate(text):
        if owner[i] is None and i in kept:
            assert ch.isspace(), f"character {ch!r} at {i} belongs to no sentence"


@hsettings(max_examples=100, deadline=None)
@given(text_st, st.integers(1, 5), st.integers(0, 3))
def test_chunker_covers_every_sentence_without_splitting(text, size, overlap):
    sents = split_sentences([Document("t.txt", None, text)], en)
    chunks = make_chunks(sents, size=size, overlap=min(overlap, size - 1))
    assert {i for c in chunks for i in c.sentence_ids} == {s.id for s in sents}
    assert all(1 <= len(c.sentence_ids) <= size for c in chunks)
