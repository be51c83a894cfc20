"""Chunk headers: the seed's title-only default, opt-in metadata, and the GICS-label detector."""

from __future__ import annotations

import pandas as pd
import pytest

from hedging_pipeline.nlp.chunking import ChunkingConfig, chunk_descriptions
from hedging_pipeline.nlp.headers import (
    DEFAULT_HEADER,
    HEADER_OPTIONS,
    chunk_header,
    gics_labels_in_headers,
    header_carries_gics,
)

BODY = "The company explores for crude oil and natural gas in Texas. " * 12


def _words(texts):
    return [len(t.split()) + 2 for t in texts]


def _companies():
    # names that contain sector words: the title is the company's own name, not metadata
    return pd.DataFrame(
        {
            "ticker": ["DVN", "UTL", "FIN"],
            "name": ["Devon Energy Corporation", "Utilities Holding Co", "Financial Group Inc."],
            "gics_sector": ["Energy", "Utilities", "Financials"],
            "gics_sub_industry": [
                "Oil & Gas Exploration & Production",
                "Electric Utilities",
                "Diversified Banks",
            ],
        }
    )


def _chunks(header: str, max_tokens: int = 40) -> pd.DataFrame:
    descriptions = pd.DataFrame({"ticker": ["DVN", "UTL", "FIN"], "text": [BODY] * 3})
    config = ChunkingConfig(max_tokens=max_tokens, overlap_tokens=4, header=header)
    return chunk_descriptions(
        descriptions, _companies(), ["DVN", "UTL", "FIN"], _words, model_id="m", config=config
    ).chunks


def test_default_header_is_the_title_alone_on_every_chunk_within_budget():
    assert DEFAULT_HEADER == "title" and ChunkingConfig().header == "title"
    chunks = _chunks(DEFAULT_HEADER)
    assert chunks.groupby("ticker").size().min() >= 3  # several chunks per company
    names = _companies().set_index("ticker")["name"]
    first_lines = chunks["text"].str.split("\n", n=1).str[0]
    assert (first_lines == "Title: " + chunks["ticker"].map(names)).all()
    assert (chunks["n_tokens"] <= 40).all()
    assert (chunks["n_tokens"] == _words(chunks["text"].tolist())).all()
    assert (chunks["header"] == "title").all()


def test_default_chunks_never_carry_gics_metadata_in_the_header():
    chunks = _chunks(DEFAULT_HEADER)
    assert gics_labels_in_headers(chunks, _companies()).empty
    for text in chunks["text"]:
        header = text.split("\n", 1)[0]
        assert "Sector:" not in header and " | " not in header
    assert not header_carries_gics(DEFAULT_HEADER)


def test_sector_option_is_named_and_detected():
    chunks = _chunks("title+sector")
    assert chunks["text"].str.startswith("Title: Devon Energy Corporation | Sector: Energy\n").sum()
    found = gics_labels_in_headers(chunks, _companies())
    assert len(found) == len(chunks)
    assert set(found["field"]) == {"Sector: Energy", "Sector: Utilities", "Sector: Financials"}
    assert header_carries_gics("title+sector")
    assert header_carries_gics("written before headers were recorded")


def test_detector_finds_a_label_under_any_field_name():
    chunks = pd.DataFrame(
        {
            "ticker": ["DVN", "DVN", "FIN"],
            "chunk_index": [0, 1, 0],
            "text": [
                "Title: Devon Energy Corporation | Kind: oil & gas exploration & production\nx",
                "Title: Devon Energy Corporation | Founded: 1971\nx",
                "Title: Financial Group Inc. | Sub-Industry: banks\nx",
            ],
        }
    )
    found = gics_labels_in_headers(chunks, _companies())
    assert found[["ticker", "chunk_index"]].values.tolist() == [["DVN", 0], ["FIN", 0]]


def test_chunk_header_fields():
    assert chunk_header("  Apple   Inc. ") == "Title: Apple Inc."
    assert chunk_header("Apple Inc.", [("Sector", "IT")]) == "Title: Apple Inc. | Sector: IT"
    assert set(HEADER_OPTIONS) == {"title", "title+sector"}


@pytest.mark.parametrize("header", sorted(HEADER_OPTIONS))
def test_header_option_enters_the_fingerprint(header):
    chunks = _chunks(header)
    other = _chunks("title+sector" if header == "title" else "title")
    assert set(chunks["fingerprint"]).isdisjoint(other["fingerprint"])
