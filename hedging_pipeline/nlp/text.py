"""Cleaning of company descriptions before chunking: markup, references, boilerplate, size policy.

The descriptions come from two sources (``source`` column of the raw ``descriptions`` file):

* ``wikipedia``: full article text, already stripped of footnotes; it has no line breaks, its
  section headings run inline ("... markets. History In 1965 ...") and a few articles keep wiki
  markup (``== References ==``) or bare URLs.
* ``sec_10k_item1``: Item 1 (Business) of a 10-K, one paragraph or table cell per line, with page
  furniture ("Table of Contents", page numbers), orphaned table cells (``$``, ``%``, ``2024``),
  bullets, forward-looking-statement and "Available Information" boilerplate.

Policy for bad input (every rejection names the ticker and source):

* a Wikipedia disambiguation page ("Amazon most often refers to: ...") is rejected;
* empty or whitespace-only text, or text with fewer than ``min_chars`` characters left after
  cleaning, is rejected (:class:`~hedging_pipeline.errors.InvalidValueError`);
* text mostly in another script (the share of Latin letters below ``min_latin_fraction``) is
  rejected, because the embedding models used here are English ones; set
  ``min_latin_fraction=0`` with a multilingual model;
* text longer than ``max_chars`` after cleaning (a 2 MB article) is truncated at the last paragraph
  or sentence boundary before the limit, and the result carries a note saying so. Only the first
  few chunks of a company are embedded anyway (``ChunkingConfig.max_chunks``).

:func:`choose_description` applies the source priority (Wikipedia first by default) and falls back
to the next source when the preferred text is missing or rejected.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import InvalidValueError

DEFAULT_SOURCE_PRIORITY: tuple[str, ...] = ("wikipedia", "sec_10k_item1")
"""Wikipedia first: it describes what the company does in a few paragraphs; 10-K Item 1 is the
fallback (longer, and for a few companies mostly boilerplate)."""

DEFAULT_MAX_CHARS = 100_000
"""Cleaned text beyond this many characters is cut (the longest Wikipedia article has ~104k)."""

DEFAULT_MIN_CHARS = 40
"""Fewer characters than this after cleaning is not a description."""

DEFAULT_MIN_LATIN_FRACTION = 0.5
"""Below this share of Latin letters among all letters, the text is in another script."""

SCRIPT_SAMPLE_CHARS = 20_000
"""The script check looks at this many leading characters (enough, and bounded for 2 MB inputs)."""

MIN_LETTERS_PER_LINE = 3
"""A line with fewer letters is a table cell, bullet or page number, not prose."""

_TAIL_SECTIONS = frozenset(
    {"references", "see also", "external links", "notes", "further reading", "bibliography"}
)
_WIKI_HEADING = re.compile(r"(?m)(?:^|\s)(={2,6})\s*([^=\n]{1,120}?)\s*\1(?:\s+|$)")
_WIKI_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_WIKI_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]")
_REFERENCE = re.compile(
    r"\[(?:\d{1,4}|[a-z]|note \d+|nb \d+|citation needed|clarification needed|"
    r"when\?|who\?|according to whom\?|dubious[^\]]{0,30}|failed verification|"
    r"better source needed|update)\]",
    re.IGNORECASE,
)
_REF_TAG = re.compile(r"<ref[^>]*?(?:/>|>.*?</ref>)", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
_URL = re.compile(r"\(?<?(?:https?://|www\.)[^\s<>()]+>?\)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff\uf0b7]")
_SPACES = re.compile(r"[ \t]+")
_LETTER = re.compile(r"[^\W\d_]")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_a-zA-Z]")
_ENOUGH_LETTERS = re.compile(rf"[^\W\d_](?:[\W\d_]*[^\W\d_]){{{MIN_LETTERS_PER_LINE - 1}}}")
_BOILERPLATE_LINE = re.compile(
    r"^(?:table(?: of)?(?: contents)?|(?:of )?contents|part\s+[ivx]+\.?|"
    r"item\s+1[a-z]?\.?(?:\s*business)?\.?|business|page \d+|\d+)$",
    re.IGNORECASE,
)
_BOILERPLATE_PARAGRAPH = re.compile(
    r"forward-looking statements|elsewhere in this (?:form 10-k|annual report)|"
    r"available (?:free of charge|on our (?:web ?site|investor))|www\.sec\.gov|"
    r"incorporated (?:herein )?by reference",
    re.IGNORECASE,
)
_DISAMBIGUATION = re.compile(
    r"\b(?:may|most often|most commonly|commonly|usually) (?:also )?refers? to\s*:", re.IGNORECASE
)
DISAMBIGUATION_WINDOW = 300
"""A disambiguation phrase within this many leading characters marks a disambiguation page."""
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")
_SENTENCE_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[A-Z0-9\"“'‘(\[])")
_INITIAL = re.compile(r"(?:[A-Z]\.)+|[A-Z]\.?")
_ABBREVIATIONS = frozenset(
    {
        "inc.", "co.", "corp.", "ltd.", "llc.", "plc.", "l.p.", "n.v.", "s.a.", "ag.", "bros.",
        "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "mt.", "jr.", "sr.", "no.", "nos.", "vs.",
        "e.g.", "i.e.", "etc.", "approx.", "dept.", "est.", "fig.", "jan.", "feb.", "mar.",
        "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.", "u.s.", "u.k.",
        "a.m.", "p.m.", "ft.", "sq.", "vol.", "ch.", "art.", "sec.",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CleanText:
    """A cleaned description and what cleaning did to it.

    Attributes
    ----------
    text : str
        Cleaned text; paragraphs separated by one newline, sections by a blank line.
    original_chars : int
        Length of the input text.
    truncated : bool
        Whether the cleaned text was cut to ``max_chars``.
    latin_fraction : float
        Share of Latin letters among all letters (of the first ``SCRIPT_SAMPLE_CHARS``).
    notes : tuple of str
        Human-readable notes (truncation), for asset metadata.
    """

    text: str
    original_chars: int
    truncated: bool
    latin_fraction: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChosenDescription:
    """The description text picked for one ticker.

    Attributes
    ----------
    ticker : str
        Company ticker.
    source : str
        Source of the text used (``wikipedia`` or ``sec_10k_item1``).
    title : str
        The description's title (may be empty).
    clean : CleanText
        The cleaned text.
    notes : tuple of str
        Why a preferred source was skipped, plus the cleaning notes.
    """

    ticker: str
    source: str
    title: str
    clean: CleanText
    notes: tuple[str, ...] = ()


def latin_fraction(text: str) -> float:
    """Return the share of Latin-script letters among the letters of ``text`` (1.0 if it has none).

    Parameters
    ----------
    text : str
        Any text; only the first ``SCRIPT_SAMPLE_CHARS`` characters are inspected.

    Returns
    -------
    float
        ``n_latin_letters / n_letters`` in [0, 1].
    """
    sample = text[:SCRIPT_SAMPLE_CHARS]
    n_letters = len(_LETTER.findall(sample))
    if n_letters == 0:
        return 1.0
    # ASCII letters are Latin; only the (few) non-ASCII letters need a Unicode name lookup.
    non_ascii = _NON_ASCII_LETTER.findall(sample)
    n_other = sum(1 for ch in non_ascii if not unicodedata.name(ch, "").startswith("LATIN"))
    return 1.0 - n_other / n_letters


def _strip_markup(text: str) -> str:
    """Remove wiki/HTML markup, references, URLs and control characters; mark wiki headings."""
    text = unicodedata.normalize("NFKC", text)
    text = html.unescape(text)
    text = _REF_TAG.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    for _ in range(3):  # nested templates, innermost first
        text = _WIKI_TEMPLATE.sub(" ", text)
    text = _WIKI_LINK.sub(r"\1", text)
    text = _REFERENCE.sub("", text)
    text = _URL.sub(" ", text)
    text = _CONTROL.sub(" ", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _cut_wiki_tail(text)


def _cut_wiki_tail(text: str) -> str:
    """Turn ``== Heading ==`` into section breaks and drop tail sections (References, See also)."""
    pieces: list[str] = []
    position = 0
    for match in _WIKI_HEADING.finditer(text):
        pieces.append(text[position : match.start()])
        heading = match.group(2).strip()
        if heading.lower() in _TAIL_SECTIONS:
            return "".join(pieces)
        pieces.append(f"\n\n{heading}\n")
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _is_prose_line(line: str) -> bool:
    """Whether a stripped line is prose (not a table cell, bullet, page number or furniture)."""
    if _ENOUGH_LETTERS.search(line) is None:
        return False
    return _BOILERPLATE_LINE.match(line) is None


def split_sentences(text: str) -> list[str]:
    """Split one paragraph into sentences.

    A sentence ends at ``.``, ``!`` or ``?`` (plus closing quotes/brackets) followed by whitespace
    and an upper-case letter, digit or opening quote, unless the word before the stop is a known
    abbreviation ("Inc.", "U.S.", "e.g.") or a single initial ("J.").

    Parameters
    ----------
    text : str
        One paragraph (no line breaks needed).

    Returns
    -------
    list of str
        Stripped, non-empty sentences whose concatenation with single spaces restores the paragraph
        up to whitespace.
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BOUNDARY.finditer(text):
        stop = match.start() + 1  # the stop character is the first one of the match
        previous_word = text[start:stop].rsplit(None, 1)[-1] if text[start:stop].strip() else ""
        if previous_word.lower() in _ABBREVIATIONS or _INITIAL.fullmatch(previous_word):
            continue
        sentence = text[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _drop_boilerplate_sentences(line: str) -> str:
    """Remove boilerplate sentences (forward-looking statements, SEC filing notices) of a line."""
    if _BOILERPLATE_PARAGRAPH.search(line) is None:
        return line
    kept = [s for s in split_sentences(line) if _BOILERPLATE_PARAGRAPH.search(s) is None]
    return " ".join(kept)


def _normalise_layout(text: str) -> str:
    """Drop non-prose lines and boilerplate; one newline per paragraph, a blank line per section."""
    sections: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [_SPACES.sub(" ", line).strip() for line in block.split("\n")]
        kept = [_drop_boilerplate_sentences(line) for line in lines if _is_prose_line(line)]
        kept = [line for line in kept if line]
        if kept:
            sections.append("\n".join(kept))
    return "\n\n".join(sections)


def _truncate(text: str, max_chars: int) -> str:
    """Cut ``text`` to ``max_chars`` at the last paragraph, else sentence, else word boundary."""
    head = text[:max_chars]
    floor = max_chars // 2  # never give up more than half the allowance to find a clean boundary
    paragraph = head.rfind("\n")
    if paragraph >= floor:
        return head[:paragraph].rstrip()
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if sentence_ends and sentence_ends[-1] >= floor:
        return head[: sentence_ends[-1]].rstrip()
    word = head.rfind(" ")
    return (head[:word] if word >= floor else head).rstrip()


def clean_description(
    text: object,
    *,
    ticker: str = "?",
    source: str = "?",
    max_chars: int = DEFAULT_MAX_CHARS,
    min_chars: int = DEFAULT_MIN_CHARS,
    min_latin_fraction: float = DEFAULT_MIN_LATIN_FRACTION,
) -> CleanText:
    """Clean one description (markup, wiki references, page furniture, boilerplate); cap its size.

    Parameters
    ----------
    text : str
        Raw description text.
    ticker, source : str
        Used in error messages and notes only.
    max_chars : int
        Cleaned text longer than this is cut at the last paragraph/sentence boundary before it.
    min_chars : int
        Minimum length of the cleaned text.
    min_latin_fraction : float
        Minimum share of Latin letters among all letters (0 disables the script check).

    Returns
    -------
    CleanText
        The cleaned text, with ``truncated`` and notes.

    Raises
    ------
    InvalidValueError
        If ``text`` is not a string, is empty or whitespace, is a disambiguation page, has fewer
        than ``min_chars`` characters left after cleaning, or is mostly in a non-Latin script.
    """
    where = f"descriptions: ticker {ticker} (source {source})"
    if not isinstance(text, str):
        raise InvalidValueError(
            f"{where}: text is {type(text).__name__}, expected a string; fill the text column"
        )
    if not text.strip():
        raise InvalidValueError(
            f"{where}: text is empty or whitespace only; supply a description or drop the row"
        )
    if _DISAMBIGUATION.search(text[:DISAMBIGUATION_WINDOW]):
        raise InvalidValueError(
            f"{where}: text is a Wikipedia disambiguation page ({text[:60].strip()!r}...), not a "
            "company description; fix the article title or rely on the next source"
        )
    cleaned = _normalise_layout(_strip_markup(text))
    if len(cleaned) < min_chars:
        raise InvalidValueError(
            f"{where}: only {len(cleaned)} characters left after removing markup and boilerplate "
            f"(expected at least {min_chars}); supply a prose description"
        )
    fraction = latin_fraction(cleaned)
    if fraction < min_latin_fraction:
        raise InvalidValueError(
            f"{where}: text is mostly in a non-Latin script ({fraction:.0%} Latin letters, "
            f"expected at least {min_latin_fraction:.0%}); the embedding model is English: supply "
            "an English description or lower min_latin_fraction for a multilingual model"
        )
    notes: tuple[str, ...] = ()
    truncated = len(cleaned) > max_chars
    if truncated:
        kept = _truncate(cleaned, max_chars)
        notes = (
            f"ticker {ticker} ({source}): cleaned text of {len(cleaned):,} characters truncated to "
            f"{len(kept):,} (max_chars={max_chars:,})",
        )
        cleaned = kept
    return CleanText(
        text=cleaned,
        original_chars=len(text),
        truncated=truncated,
        latin_fraction=fraction,
        notes=notes,
    )


def choose_description(
    ticker: str,
    rows: pd.DataFrame,
    *,
    source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY,
    max_chars: int = DEFAULT_MAX_CHARS,
    min_chars: int = DEFAULT_MIN_CHARS,
    min_latin_fraction: float = DEFAULT_MIN_LATIN_FRACTION,
) -> ChosenDescription:
    """Pick and clean the description of one ticker, trying sources in ``source_priority`` order.

    Parameters
    ----------
    ticker : str
        The company.
    rows : pd.DataFrame
        Description rows of this ticker (columns ``text`` and optionally ``source``, ``title``); a
        missing or empty ``source`` counts as the first source of the priority.
    source_priority : sequence of str
        Sources in order of preference; sources not listed are tried last, alphabetically.
    max_chars, min_chars, min_latin_fraction
        Passed to :func:`clean_description`.

    Returns
    -------
    ChosenDescription
        The first source whose text passes cleaning; ``notes`` says why earlier ones were skipped.

    Raises
    ------
    MissingColumnError
        If ``rows`` has no ``text`` column.
    InvalidValueError
        If the ticker has no description row, or every one of its texts is rejected (the message
        lists each source's reason).
    """
    require_columns(rows, ("text",), "descriptions")
    if rows.empty:
        raise InvalidValueError(
            f"descriptions: ticker {ticker} has no description (no row in any source "
            f"{list(source_priority)}); its semantic peers cannot be computed"
        )
    default_source = source_priority[0] if source_priority else "unknown"
    records = rows.to_dict("records")
    for record in records:  # a missing or empty source counts as the preferred one
        source = record.get("source")
        record["source"] = source if isinstance(source, str) and source else default_source
    rank = {source: i for i, source in enumerate(source_priority)}
    records.sort(key=lambda r: (rank.get(r["source"], len(rank)), r["source"]))
    reasons: list[str] = []
    for record in records:
        source = record["source"]
        try:
            clean = clean_description(
                record["text"],
                ticker=ticker,
                source=source,
                max_chars=max_chars,
                min_chars=min_chars,
                min_latin_fraction=min_latin_fraction,
            )
        except InvalidValueError as error:
            reasons.append(str(error))
            continue
        title = record.get("title")
        return ChosenDescription(
            ticker=ticker,
            source=source,
            title=title if isinstance(title, str) else "",
            clean=clean,
            notes=tuple(f"fell back from: {reason}" for reason in reasons) + clean.notes,
        )
    raise InvalidValueError(
        f"descriptions: ticker {ticker}: no usable text in any source: " + " | ".join(reasons)
    )


def company_texts(
    descriptions: pd.DataFrame, *, max_chars: int = DEFAULT_MAX_CHARS
) -> dict[str, str]:
    """Cleaned text of every source of every ticker, joined per ticker (for keyword scoring).

    Rows whose text is rejected by :func:`clean_description` are skipped; a ticker with no usable
    row maps to an empty string.

    Parameters
    ----------
    descriptions : pd.DataFrame
        Columns ticker, text (and optionally source).
    max_chars : int
        Per-row cap passed to :func:`clean_description`.

    Returns
    -------
    dict
        ``{ticker: text}``.

    Raises
    ------
    MissingColumnError
        If ``ticker`` or ``text`` is missing.
    """
    require_columns(descriptions, ("ticker", "text"), "descriptions")
    out: dict[str, list[str]] = {}
    for ticker, text in zip(descriptions["ticker"], descriptions["text"], strict=True):
        parts = out.setdefault(str(ticker), [])
        try:
            parts.append(clean_description(text, ticker=str(ticker), max_chars=max_chars).text)
        except InvalidValueError:
            continue
    return {ticker: "\n\n".join(parts) for ticker, parts in out.items()}
