from __future__ import annotations

import unicodedata

import pandas as pd
import pytest

from hedging_pipeline.errors import InvalidValueError, MissingColumnError
from hedging_pipeline.nlp.text import (
    choose_description,
    clean_description,
    company_texts,
    latin_fraction,
    split_sentences,
)


def test_wiki_markup_references_and_tail_sections_are_removed():
    raw = (
        "Acme Corp. makes anvils.[1] It sells them to <b>coyotes</b>[citation needed] via "
        "[[Mail order|mail]] {{cite web|url=x}} (https://acme.example.com/history).\n"
        "== History ==\nFounded in 1920 &amp; still going.[a]\n"
        "== References ==\nSmith, J. (2001). Anvils. Retrieved 2020."
    )
    clean = clean_description(raw, ticker="ACME", source="wikipedia")
    assert clean.text == (
        "Acme Corp. makes anvils. It sells them to coyotes via mail .\n\n"
        "History\nFounded in 1920 & still going."
    )
    assert not clean.truncated and clean.notes == ()


def test_inline_wiki_heading_without_newlines_becomes_a_section_break():
    raw = "Lutron makes dimmers, switches and sensors. == Products == Lamps. == References == X."
    assert (
        clean_description(raw).text
        == "Lutron makes dimmers, switches and sensors.\n\nProducts\nLamps."
    )


def test_10k_page_furniture_table_cells_and_boilerplate_are_dropped():
    raw = (
        "Item 1A and elsewhere in this Form 10-K.\nPART I\nItem 1.\xa0\xa0Business\nOverview\n"
        "We design analog chips for cars.\n•\nEfficient use of capital.\n$\n2024\n%\n(1)\n"
        "Table of Contents\n12\n"
        "This report contains forward-looking statements. We ship worldwide.\n"
        "\u200bOur reports are available free of charge on our website.\n"
    )
    clean = clean_description(raw, ticker="ADI", source="sec_10k_item1")
    assert clean.text.split("\n") == [
        "Overview",
        "We design analog chips for cars.",
        "Efficient use of capital.",
        "We ship worldwide.",
    ]


@pytest.mark.parametrize("raw", ["", "   \n\t  ", "\u00a0\u00a0"])
def test_empty_or_whitespace_text_is_rejected_naming_ticker(raw):
    with pytest.raises(InvalidValueError, match="ticker XYZ \\(source wikipedia\\).*empty"):
        clean_description(raw, ticker="XYZ", source="wikipedia")


def test_non_string_text_is_rejected():
    with pytest.raises(InvalidValueError, match="ticker XYZ.*NoneType"):
        clean_description(None, ticker="XYZ")


@pytest.mark.parametrize(
    "raw",
    [
        "Amazon most often refers to: Amazon (company), an American technology company; Amazon "
        "rainforest, a rainforest covering most of the Amazon basin.",
        "Iron Mountain may refer to: Places: Iron Mountains (Czech Republic), a mountain ridge.",
    ],
)
def test_wikipedia_disambiguation_page_is_rejected(raw):
    with pytest.raises(InvalidValueError, match="ticker AMZN.*disambiguation page"):
        clean_description(raw, ticker="AMZN", source="wikipedia")


def test_text_that_is_only_markup_is_rejected():
    with pytest.raises(InvalidValueError, match="ticker XYZ.*characters left"):
        clean_description("[1] <br/> {{infobox}} $ % 2024 [2]", ticker="XYZ")


def test_text_in_another_script_is_rejected_unless_allowed():
    chinese = "阿里巴巴集团是一家中国跨国科技公司，专注于电子商务、零售、互联网和技术。" * 5
    assert latin_fraction(chinese) == 0.0
    with pytest.raises(InvalidValueError, match="ticker BABA.*non-Latin script \\(0% Latin"):
        clean_description(chinese, ticker="BABA")
    kept = clean_description(chinese, min_latin_fraction=0.0).text
    assert kept == unicodedata.normalize("NFKC", chinese)


def test_latin_fraction_counts_accented_latin_as_latin():
    assert latin_fraction("Société Générale, Zürich") == 1.0
    assert latin_fraction("Газпром Gazprom") == pytest.approx(7 / 14)
    assert latin_fraction("1234 !!") == 1.0


def test_two_megabyte_article_is_truncated_at_a_sentence_boundary_with_a_note():
    sentence = "The company makes widgets for industrial customers around the world. "
    raw = sentence * (2_000_000 // len(sentence) + 1)
    assert len(raw) > 2_000_000
    clean = clean_description(raw, ticker="BIG", max_chars=50_000)
    assert clean.truncated
    assert 25_000 <= len(clean.text) <= 50_000
    assert clean.text.endswith("world.")
    assert clean.original_chars == len(raw)
    assert "ticker BIG" in clean.notes[0] and "truncated" in clean.notes[0]


def test_split_sentences_respects_abbreviations_and_initials():
    text = (
        "Apple Inc. is based in the U.S. and sells phones. Dr. Smith joined in 2001! "
        "Was it J. R. Jones? Yes. 3M makes tape."
    )
    assert split_sentences(text) == [
        "Apple Inc. is based in the U.S. and sells phones.",
        "Dr. Smith joined in 2001!",
        "Was it J. R. Jones?",
        "Yes.",
        "3M makes tape.",
    ]


def _rows(**texts: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": "ABC",
            "source": list(texts),
            "title": [f"ABC {s}" for s in texts],
            "text": list(texts.values()),
        }
    )


def test_choose_description_prefers_wikipedia_then_falls_back_with_a_note():
    good_wiki = "ABC Corp. makes industrial pumps and valves for water utilities."
    good_10k = "We manufacture pumps. Our customers are municipal water utilities."
    chosen = choose_description("ABC", _rows(sec_10k_item1=good_10k, wikipedia=good_wiki))
    assert (chosen.source, chosen.title, chosen.notes) == ("wikipedia", "ABC wikipedia", ())
    assert chosen.clean.text == good_wiki

    fallback = choose_description("ABC", _rows(wikipedia="   ", sec_10k_item1=good_10k))
    assert fallback.source == "sec_10k_item1"
    assert fallback.clean.text == good_10k
    assert len(fallback.notes) == 1 and "source wikipedia" in fallback.notes[0]

    tenk_first = choose_description(
        "ABC",
        _rows(sec_10k_item1=good_10k, wikipedia=good_wiki),
        source_priority=("sec_10k_item1", "wikipedia"),
    )
    assert tenk_first.source == "sec_10k_item1"


def test_choose_description_without_source_column_uses_the_text():
    rows = pd.DataFrame(
        {"ticker": ["ABC"], "text": ["ABC makes pumps and valves for water utilities."]}
    )
    chosen = choose_description("ABC", rows)
    assert chosen.source == "wikipedia" and chosen.title == ""
    # the loader fills a missing source/title column with None
    chosen = choose_description("ABC", rows.assign(source=None, title=None))
    assert chosen.source == "wikipedia" and chosen.title == ""


def test_ticker_without_any_description_is_a_clear_error():
    with pytest.raises(InvalidValueError, match="ticker ABC has no description"):
        choose_description("ABC", _rows().iloc[0:0])


def test_all_sources_bad_lists_every_reason():
    with pytest.raises(InvalidValueError, match="ticker ABC: no usable text.*wikipedia.*sec_10k"):
        choose_description("ABC", _rows(wikipedia="", sec_10k_item1="$ % 12"))


def test_missing_text_column_is_a_missing_column_error():
    with pytest.raises(MissingColumnError, match="descriptions: missing column\\(s\\) text"):
        choose_description("ABC", pd.DataFrame({"ticker": ["ABC"], "body": ["x"]}))


def test_company_texts_joins_usable_sources_per_ticker():
    frame = pd.DataFrame(
        {
            "ticker": ["A", "A", "B", "C"],
            "text": [
                "Alpha makes pumps and valves for water utilities.[1]",
                "We sell valves to municipal water utilities.",
                "   ",
                "Gamma runs a regional bank with branches in Ohio.",
            ],
        }
    )
    texts = company_texts(frame)
    assert texts == {
        "A": "Alpha makes pumps and valves for water utilities.\n\nWe sell valves to municipal water utilities.",
        "B": "",
        "C": "Gamma runs a regional bank with branches in Ohio.",
    }
