from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hedging_pipeline.errors import ConfigurationError, InvalidValueError, MissingColumnError
from hedging_pipeline.nlp.chunking import (
    ChunkingConfig,
    chunk_description,
    chunk_descriptions,
    chunk_header,
    chunk_violations,
    content_fingerprint,
)
from hedging_pipeline.nlp.text import split_sentences

WORDS = (
    "pumps valves turbines water utilities industrial customers service contracts spare parts "
    "factories europe asia revenue growth margin engineering software sensors grid power plants"
).split()


def _sentence(rng: np.random.Generator, n_words: int) -> str:
    words = rng.choice(WORDS, size=n_words)
    return " ".join(words).capitalize() + "."


def _document(seed: int, sections: int = 3, paragraphs: int = 3, sentences: int = 4) -> str:
    rng = np.random.default_rng(seed)
    out = []
    for s in range(sections):
        paras = [f"Section {s} heading"]
        for _ in range(paragraphs):
            n = int(rng.integers(2, sentences + 1))
            paras.append(" ".join(_sentence(rng, int(rng.integers(4, 15))) for _ in range(n)))
        out.append("\n".join(paras))
    return "\n\n".join(out)


def _whitespace_count(texts):
    return [len(t.split()) + 2 for t in texts]


HEADER = chunk_header("Acme Pumps Inc.")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("max_tokens,overlap", [(40, 0), (64, 8), (128, 30)])
def test_every_chunk_has_the_header_and_fits_the_budget(seed, max_tokens, overlap):
    text = _document(seed)
    chunks = chunk_description(
        "ACME", "Acme Pumps Inc.", text, _whitespace_count, max_tokens, overlap
    )
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text.startswith(HEADER + "\n")
        assert chunk.n_tokens == _whitespace_count([chunk.text])[0]
        assert chunk.n_tokens <= max_tokens
    # nothing is lost: every sentence of the document is in some chunk
    body = "\n".join(c.text for c in chunks)
    for line in text.split("\n"):
        for sentence in split_sentences(line.strip()):
            assert sentence in body


def test_real_tokenizer_budget_includes_header_and_special_tokens(minilm):
    text = _document(7, sections=4, paragraphs=4, sentences=6)
    chunks = chunk_description("ACME", "Acme Pumps Inc.", text, minilm.count_tokens, 96, 16)
    assert len(chunks) > 3
    recount = minilm.count_tokens([c.text for c in chunks])
    assert recount == [c.n_tokens for c in chunks]
    assert max(recount) <= 96
    # the model really sees the header: its ids open every chunk after [CLS]
    header_ids = minilm.tokenizer(HEADER, add_special_tokens=False)["input_ids"]
    for chunk in chunks:
        ids = minilm.tokenizer(chunk.text)["input_ids"]
        assert ids[1 : 1 + len(header_ids)] == header_ids


def test_chunks_end_at_section_boundaries_when_sections_fit():
    # two sections of ~30 tokens each, budget 50: the first chunk must be exactly section A
    a = "Alpha heading\n" + " ".join(["Pumps move water to cities."] * 6)
    b = "Beta heading\n" + " ".join(["Valves stop water in pipes."] * 6)
    chunks = chunk_description("X", "X", a + "\n\n" + b, _whitespace_count, 50, 10)
    header = chunk_header("X") + "\n"
    assert chunks[0].text == header + a
    assert chunks[1].text == header + b  # no overlap across the section boundary


def test_overlap_repeats_trailing_sentences_within_a_section():
    sentences = [f"Sentence number {i} is about pumps." for i in range(20)]  # 6 words each
    text = " ".join(sentences)
    chunks = chunk_description("X", "X", text, _whitespace_count, 40, 12)
    bodies = [c.text.split("\n", 1)[1] for c in chunks]
    for previous, current in zip(bodies, bodies[1:], strict=False):
        prev_sentences = split_sentences(previous)
        cur_sentences = split_sentences(current)
        shared = [s for s in cur_sentences if s in prev_sentences]
        assert 1 <= len(shared) <= 2  # 12 overlap tokens = two 6-word sentences at most
        assert cur_sentences[: len(shared)] == prev_sentences[-len(shared) :]
    assert sentences[-1] in bodies[-1]


def test_oversized_sentence_and_giant_word_are_split_to_fit():
    long_sentence = " ".join(["word"] * 500) + "."
    giant_word = "x" * 5000
    text = f"Intro sentence here. {long_sentence} {giant_word} Tail sentence here."

    def char_count(texts):  # a tokenizer where a long word is many tokens
        return [sum(max(1, len(w) // 50) for w in t.split()) + 2 for t in texts]

    chunks = chunk_description("X", "X", text, char_count, 60, 5)
    assert all(c.n_tokens <= 60 for c in chunks)
    joined = "".join(c.text.split("\n", 1)[1] for c in chunks)
    assert joined.count("x") == 5000
    assert sum(c.text.count("word") for c in chunks) >= 500


def test_non_additive_tokenizer_is_shrunk_to_the_budget():
    # the joined text costs one token per space more than the parts: the recount must shrink it
    def spacey(texts):
        return [len(t.split()) + t.count(" ") // 3 + 2 for t in texts]

    text = " ".join(f"Short sentence {i} here." for i in range(60))
    chunks = chunk_description("X", "X", text, spacey, 50, 0)
    assert all(c.n_tokens == spacey([c.text])[0] <= 50 for c in chunks)
    assert "Short sentence 59 here." in chunks[-1].text


def test_max_chunks_keeps_the_first_chunks_only():
    text = _document(3, sections=6)
    every = chunk_description("X", "X", text, _whitespace_count, 40, 5)
    first = chunk_description("X", "X", text, _whitespace_count, 40, 5, max_chunks=3)
    assert len(every) > 3
    assert first == every[:3]


def test_max_chunks_on_a_long_text_matches_full_chunking():
    # longer than max_chunks * max_tokens * MAX_CHARS_PER_TOKEN: the head shortcut must agree
    text = " ".join(f"Sentence {i} tells about pumps and valves." for i in range(3000))
    every = chunk_description("X", "X", text, _whitespace_count, 30, 8)
    first = chunk_description("X", "X", text, _whitespace_count, 30, 8, max_chunks=4)
    assert first == every[:4]


def test_header_that_leaves_no_room_is_an_error():
    with pytest.raises(InvalidValueError, match="ticker X: header .* leaves"):
        chunk_description("X", "A very long title " * 10, "Some text.", _whitespace_count, 30, 5)


def test_empty_text_is_an_error():
    with pytest.raises(InvalidValueError, match="ticker X: no text to chunk"):
        chunk_description("X", "X", "  \n\n ", _whitespace_count, 30, 5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"max_tokens": 0}, "max_tokens must be > 0"),
        ({"max_tokens": 64, "overlap_tokens": 32}, "overlap_tokens must be in"),
        ({"max_chunks": 0}, "max_chunks must be > 0"),
        ({"header": "title+gics"}, "header must be one of"),
    ],
)
def test_invalid_chunking_config(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        ChunkingConfig(**kwargs)


def test_fingerprint_changes_with_text_header_model_and_settings():
    base = {
        "text": "Acme makes pumps.",
        "header": "Title: Acme",
        "model_id": "m",
        "config": ChunkingConfig(),
    }
    reference = content_fingerprint(**base)
    assert content_fingerprint(**base) == reference
    assert len(reference) == 32 and int(reference, 16) >= 0
    changes = {
        "text": "Acme makes valves.",
        "header": "Title: Acme Inc.",
        "model_id": "m2",
        "config": ChunkingConfig(overlap_tokens=16),
        "max_chunks": ChunkingConfig(max_chunks=7),
        "source_priority": ChunkingConfig(source_priority=("sec_10k_item1",)),
        "header_option": ChunkingConfig(header="title+sector"),
    }
    for key, value in changes.items():
        field = "config" if isinstance(value, ChunkingConfig) else key
        assert content_fingerprint(**{**base, field: value}) != reference, key


def _universe():
    descriptions = pd.DataFrame(
        {
            "ticker": ["AAA", "AAA", "BBB", "CCC", "DDD", "EEE"],
            "source": [
                "wikipedia",
                "sec_10k_item1",
                "wikipedia",
                "wikipedia",
                "wikipedia",
                "wikipedia",
            ],
            "title": ["Aaa Wiki", "Aaa 10-K", "Bbb", "Ccc", "Ddd", "Eee"],
            "text": [
                _document(1),
                "We make pumps. " * 20,
                "   ",
                "中文描述" * 30,
                _document(2),
                "$ % 2024",
            ],
        }
    )
    companies = pd.DataFrame(
        {
            "ticker": ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"],
            "name": ["Aaa Inc.", "Bbb Inc.", "Ccc Inc.", None, "Eee", "Fff"],
            "gics_sector": ["Industrials", "Energy", "Energy", "Utilities", None, "Energy"],
        }
    )
    return descriptions, companies


def test_chunk_descriptions_records_bad_companies_and_chunks_the_rest():
    descriptions, companies = _universe()
    config = ChunkingConfig(max_tokens=48, overlap_tokens=8, max_chunks=4)
    run = chunk_descriptions(
        descriptions,
        companies,
        ["FFF", "EEE", "DDD", "CCC", "BBB", "AAA"],
        _whitespace_count,
        model_id="hashing",
        config=config,
    )
    assert sorted(run.failed_tickers) == ["BBB", "CCC", "EEE", "FFF"]
    messages = {i.ticker: i.message for i in run.issues if i.severity == "error"}
    assert "empty or whitespace" in messages["BBB"]
    assert "non-Latin script" in messages["CCC"]
    assert "characters left" in messages["EEE"]
    assert "has no description" in messages["FFF"]
    chunks = run.chunks
    assert sorted(chunks["ticker"].unique()) == ["AAA", "DDD"]
    assert (chunks.groupby("ticker").size() <= 4).all()
    aaa = chunks[chunks["ticker"] == "AAA"]
    assert aaa["text"].str.startswith("Title: Aaa Inc.\n").all()
    assert (aaa["source"] == "wikipedia").all()
    ddd = chunks[chunks["ticker"] == "DDD"]  # no company name: falls back to the description title
    assert ddd["text"].str.startswith("Title: Ddd\n").all()
    assert (chunks["header"] == "title").all()
    assert (chunks["n_tokens"] <= 48).all()
    assert chunks.groupby("ticker")["fingerprint"].nunique().eq(1).all()
    assert chunks["chunk_index"].dtype == np.int64


def test_chunk_descriptions_missing_columns():
    descriptions, companies = _universe()
    with pytest.raises(MissingColumnError, match="companies: missing column\\(s\\) name"):
        chunk_descriptions(
            descriptions,
            companies.drop(columns="name"),
            ["AAA"],
            _whitespace_count,
            model_id="m",
            config=ChunkingConfig(),
        )
    # the title-only default does not need a sector; the sector option does
    title_only = chunk_descriptions(
        descriptions,
        companies.drop(columns="gics_sector"),
        ["AAA"],
        _whitespace_count,
        model_id="m",
        config=ChunkingConfig(),
    )
    assert title_only.failed_tickers == ()
    with pytest.raises(MissingColumnError, match="companies: missing column\\(s\\) gics_sector"):
        chunk_descriptions(
            descriptions,
            companies.drop(columns="gics_sector"),
            ["AAA"],
            _whitespace_count,
            model_id="m",
            config=ChunkingConfig(header="title+sector"),
        )


def _fingerprints(descriptions, companies, header="title"):
    run = chunk_descriptions(
        descriptions,
        companies,
        ["AAA", "DDD"],
        _whitespace_count,
        model_id="m",
        config=ChunkingConfig(max_tokens=48, overlap_tokens=8, header=header),
    )
    return run.chunks.groupby("ticker")["fingerprint"].first().to_dict()


def test_loader_frames_with_null_source_and_title_are_chunked():
    descriptions, companies = _universe()
    loaded = descriptions[descriptions["ticker"].isin(["AAA", "DDD"])].drop_duplicates("ticker")
    loaded = loaded.assign(source=None, title=None)
    run = chunk_descriptions(
        loaded,
        companies,
        ["AAA", "DDD"],
        _whitespace_count,
        model_id="m",
        config=ChunkingConfig(max_tokens=48, overlap_tokens=8),
    )
    assert run.failed_tickers == ()
    assert set(run.chunks["source"]) == {"wikipedia"}
    assert (
        run.chunks.loc[run.chunks["ticker"] == "DDD", "text"].str.startswith("Title: DDD\n").all()
    )


def test_fingerprint_follows_the_cleaned_text():
    descriptions, companies = _universe()
    before = _fingerprints(descriptions, companies)
    # a footnote marker is cleaned away: nothing to re-embed
    marked = descriptions.copy()
    marked.loc[marked["ticker"] == "DDD", "text"] += "[12]"
    assert _fingerprints(marked, companies) == before
    # a real edit changes DDD only
    edited = descriptions.copy()
    edited.loc[edited["ticker"] == "DDD", "text"] += " New sentence about turbines."
    after = _fingerprints(edited, companies)
    assert after["AAA"] == before["AAA"] and after["DDD"] != before["DDD"]
    # a new sector changes nothing under the title-only header, and the fingerprint of the
    # title+sector header (which shows it)
    moved = companies.assign(gics_sector=companies["gics_sector"].replace("Industrials", "Energy"))
    assert _fingerprints(descriptions, moved) == before
    with_sector = _fingerprints(descriptions, companies, "title+sector")
    assert with_sector["AAA"] != before["AAA"]
    assert _fingerprints(descriptions, moved, "title+sector")["AAA"] != with_sector["AAA"]


def test_chunk_violations_flag_each_broken_rule():
    good = chunk_description("X", "X Inc.", _document(4), _whitespace_count, 40, 5)
    frame = pd.DataFrame(
        {
            "ticker": "X",
            "chunk_index": [c.chunk_index for c in good],
            "text": [c.text for c in good],
            "n_tokens": [c.n_tokens for c in good],
        }
    )
    assert len(frame) >= 4
    assert chunk_violations(frame, 40).empty
    broken = frame.copy()
    broken.loc[0, "text"] = "No header here\nbody"
    broken.loc[1, "text"] = "Title: Y Inc.\nbody"
    broken.loc[2, "n_tokens"] = 41
    broken.loc[3, "chunk_index"] = 99
    found = chunk_violations(broken, 40)
    assert sorted(zip(found["chunk_index"], found["problem"], strict=True)) == [
        (0, "header differs from the ticker's other chunks"),
        (0, "no metadata header"),
        (1, "header differs from the ticker's other chunks"),
        (2, "n_tokens outside [1, 40]"),
        (99, "chunk_index not 0..n-1"),
    ]
