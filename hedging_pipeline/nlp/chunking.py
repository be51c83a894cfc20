"""Context-aware chunking of company descriptions to an embedding model's token budget.

Every chunk starts with a header line naming the company, ``Title: Apple Inc.`` (the seed's
header), so that each chunk vector knows whose text it is. More header metadata is an explicit
option whose name says what it adds (:data:`HEADER_OPTIONS`: ``title+sector`` appends
``| Sector: <GICS sector>``). The default carries no classification label, so GICS-based
evaluations of its embeddings do not read their own answer. The body is cut on the strongest
boundary available:

* the text is split into *units*: sentences (sentences longer than the budget are halved on
  words, then characters, until they fit), each tagged with the boundary before it: section (blank
  line or a heading line), paragraph (line break) or sentence;
* units are packed greedily; when the next unit does not fit, the chunk ends at the last section
  boundary, else the last paragraph boundary, that keeps the chunk at least ``MIN_FILL`` full, else
  at the last sentence;
* the next chunk repeats up to ``overlap_tokens`` of trailing sentences of the previous one, never
  across a section boundary.

Token counts come from the model's own tokenizer (``count_tokens``, special tokens included).
Units are counted once; the packed chunk is then counted again as a whole and shrunk if the
tokenizer is not additive, so no chunk (header included) ever exceeds ``max_tokens``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from hedging_pipeline.data.tables import CHUNK_COLUMNS
from hedging_pipeline.data.validation import require_columns
from hedging_pipeline.errors import ConfigurationError, DataError, InvalidValueError
from hedging_pipeline.nlp.headers import (
    DEFAULT_HEADER,
    HEADER_OPTIONS,
    chunk_header,
    header_fields,
)
from hedging_pipeline.nlp.text import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MIN_CHARS,
    DEFAULT_MIN_LATIN_FRACTION,
    DEFAULT_SOURCE_PRIORITY,
    choose_description,
    split_sentences,
)

CountTokens = Callable[[Sequence[str]], list[int]]
"""The model's tokenizer: token count (special tokens included) of each text."""

CHUNKER_VERSION = "2"
"""Bump when chunking or cleaning changes output, so fingerprints change and companies re-embed."""

HEADER_SEPARATOR = "\n"
"""Between the metadata header and the chunk body."""

MIN_FILL = 0.5
"""A chunk is cut at a section/paragraph boundary only if that leaves it at least this full."""

MAX_CHARS_PER_TOKEN = 10
"""Generous bound on characters per token (English word pieces average about 4.5); only used to
skip tokenising text beyond what ``max_chunks`` chunks can hold."""

HEADING_MAX_WORDS = 8
"""A line of at most this many words without closing punctuation is a section heading."""

_HEADER_PATTERN = r"^Title: \S.*$"
_SECTION, _PARAGRAPH, _SENTENCE, _WORD = 0, 1, 2, 3
_JOINERS = {_SECTION: "\n\n", _PARAGRAPH: "\n", _SENTENCE: " ", _WORD: " "}
_CLOSING_PUNCTUATION = (".", "!", "?", ":", ";", ",")


@dataclass(frozen=True)
class ChunkingConfig:
    """Settings of cleaning and chunking; all of them enter the content fingerprint.

    Attributes
    ----------
    max_tokens : int
        Token budget of one chunk, header and special tokens included (capped by the model's own).
    overlap_tokens : int
        Tokens of trailing sentences repeated at the start of the next chunk.
    max_chunks : int or None
        Keep only the first this many chunks of a company (the lead of an article describes the
        business; later sections are history). None keeps all.
    max_chars, min_chars, min_latin_fraction
        Cleaning policy (see :mod:`hedging_pipeline.nlp.text`).
    source_priority : tuple of str
        Which description source to use first.
    header : str
        Header option (a key of :data:`HEADER_OPTIONS`); ``title`` names the company only.
    """

    max_tokens: int = 256
    overlap_tokens: int = 32
    max_chunks: int | None = 6
    max_chars: int = DEFAULT_MAX_CHARS
    min_chars: int = DEFAULT_MIN_CHARS
    min_latin_fraction: float = DEFAULT_MIN_LATIN_FRACTION
    source_priority: tuple[str, ...] = DEFAULT_SOURCE_PRIORITY
    header: str = DEFAULT_HEADER

    def __post_init__(self) -> None:
        """Validate the settings.

        Raises
        ------
        ConfigurationError
            If a budget is not positive, the overlap is not below half the budget, or the header
            option is unknown.
        """
        if self.header not in HEADER_OPTIONS:
            raise ConfigurationError(
                f"chunking: header must be one of {sorted(HEADER_OPTIONS)}, got {self.header!r}"
            )
        if self.max_tokens <= 0:
            raise ConfigurationError(f"chunking: max_tokens must be > 0, got {self.max_tokens}")
        if not 0 <= self.overlap_tokens < self.max_tokens // 2:
            raise ConfigurationError(
                f"chunking: overlap_tokens must be in [0, max_tokens/2 = {self.max_tokens // 2}), "
                f"got {self.overlap_tokens}"
            )
        if self.max_chunks is not None and self.max_chunks <= 0:
            raise ConfigurationError(
                f"chunking: max_chunks must be > 0 or None, got {self.max_chunks}"
            )


@dataclass(frozen=True)
class Chunk:
    """One chunk of a company description.

    Attributes
    ----------
    ticker : str
        Company ticker.
    chunk_index : int
        Position of the chunk in the description, from 0.
    text : str
        Header, newline, body.
    n_tokens : int
        Token count of ``text`` by the model's tokenizer, special tokens included.
    """

    ticker: str
    chunk_index: int
    text: str
    n_tokens: int


@dataclass(frozen=True)
class ChunkIssue:
    """A problem or note about one ticker's description.

    Attributes
    ----------
    ticker : str
        Company ticker.
    severity : str
        ``error`` (the ticker has no chunks) or ``note`` (chunked, with a caveat).
    message : str
        One line naming ticker and source.
    """

    ticker: str
    severity: str
    message: str


@dataclass(frozen=True)
class ChunkingRun:
    """Chunks of many tickers and what went wrong with the others.

    Attributes
    ----------
    chunks : pd.DataFrame
        Columns ticker, chunk_index, text, n_tokens, source, fingerprint, model (the embedder whose
        tokenizer counted the tokens), header (the header option); sorted by (ticker, chunk_index).
    issues : tuple of ChunkIssue
        One ``error`` per ticker without chunks, ``note`` rows for truncation and source fallbacks.
    """

    chunks: pd.DataFrame
    issues: tuple[ChunkIssue, ...] = field(default_factory=tuple)

    @property
    def failed_tickers(self) -> tuple[str, ...]:
        """Tickers that produced no chunks."""
        return tuple(issue.ticker for issue in self.issues if issue.severity == "error")


def _is_heading(line: str) -> bool:
    """Whether a paragraph line is a section heading (short, no closing punctuation)."""
    return len(line.split()) <= HEADING_MAX_WORDS and not line.rstrip().endswith(
        _CLOSING_PUNCTUATION
    )


def _units(text: str) -> tuple[list[str], list[int]]:
    """Split cleaned text into sentence units and the boundary level before each.

    A heading line is glued to the first sentence after it, so no chunk ends on a bare heading.
    """
    units: list[str] = []
    levels: list[int] = []
    for section in text.split("\n\n"):
        level = _SECTION
        heading = ""
        for line in (line.strip() for line in section.split("\n")):
            if not line:
                continue
            if _is_heading(line):
                heading = f"{heading}\n{line}" if heading else line
                level = _SECTION
                continue
            for i, sentence in enumerate(split_sentences(line)):
                if i == 0 and heading:
                    sentence, heading = f"{heading}\n{sentence}", ""
                units.append(sentence)
                levels.append(level if i == 0 else _SENTENCE)
            level = _PARAGRAPH
        if heading:
            units.append(heading)
            levels.append(level)
    return units, levels


def _halve(text: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """Split ``text`` into pieces of at most ``budget`` tokens: halves on words, then characters."""
    if count(text) <= budget:
        return [text]
    words = text.split(" ")
    if len(words) > 1:
        middle = len(words) // 2
        left, right = " ".join(words[:middle]), " ".join(words[middle:])
    else:
        middle = len(text) // 2
        left, right = text[:middle], text[middle:]
    return _halve(left, budget, count) + _halve(right, budget, count)


def _measured_units(
    text: str, budget: int, count_tokens: CountTokens, n_special: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return units of ``text`` of at most ``budget`` tokens, their token counts and levels."""
    units, levels = _units(text)
    counts = [c - n_special for c in count_tokens(units)] if units else []
    out_units: list[str] = []
    out_counts: list[int] = []
    out_levels: list[int] = []
    for unit, n_tokens, level in zip(units, counts, levels, strict=True):
        if n_tokens <= budget:
            out_units.append(unit)
            out_counts.append(n_tokens)
            out_levels.append(level)
            continue
        pieces = _halve(unit, budget, lambda s: count_tokens([s])[0] - n_special)
        piece_counts = [c - n_special for c in count_tokens(pieces)]
        out_units.extend(pieces)
        out_counts.extend(piece_counts)
        out_levels.extend([level] + [_WORD] * (len(pieces) - 1))
    return out_units, np.asarray(out_counts, dtype=np.int64), np.asarray(out_levels, dtype=np.int64)


def _join(units: Sequence[str], levels: Sequence[int]) -> str:
    """Join units with the whitespace their boundaries call for (first boundary dropped)."""
    parts = [units[0]]
    for unit, level in zip(units[1:], levels[1:], strict=True):
        parts.append(_JOINERS[int(level)])
        parts.append(unit)
    return "".join(parts)


def _cut(start: int, stop: int, cumulative: np.ndarray, levels: np.ndarray, budget: int) -> int:
    """Choose where a chunk that runs from ``start`` and could reach ``stop`` should end."""
    for level in (_SECTION, _PARAGRAPH):
        # cutting before unit m in (start, stop) leaves cumulative[m] - cumulative[start] tokens
        candidates = np.arange(start + 1, stop)
        fill = cumulative[candidates] - cumulative[start]
        ok = candidates[(levels[candidates] <= level) & (fill >= MIN_FILL * budget)]
        if ok.size:
            return int(ok[-1])
    return stop


def chunk_description(
    ticker: str,
    title: str,
    text: str,
    count_tokens: CountTokens,
    max_tokens: int,
    overlap_tokens: int,
    max_chunks: int | None = None,
    *,
    header_fields: Sequence[tuple[str, str]] = (),
) -> list[Chunk]:
    """Split a cleaned description into header-prefixed chunks of at most ``max_tokens`` tokens.

    Parameters
    ----------
    ticker : str
        Company ticker (stored on every chunk and named in errors).
    title : str
        The company name (the header's title).
    text : str
        Cleaned description (:func:`~hedging_pipeline.nlp.text.clean_description`): paragraphs
        separated by newlines, sections by blank lines.
    count_tokens : callable
        The model's tokenizer: ``count_tokens(texts) -> list[int]``, special tokens included.
    max_tokens : int
        Budget of a whole chunk: header, separator, body and special tokens.
    overlap_tokens : int
        Trailing-sentence tokens repeated at the start of the next chunk (same section only).
    max_chunks : int, optional
        Stop after this many chunks.
    header_fields : sequence of (label, value)
        Metadata appended to the header after the title (none by default).

    Returns
    -------
    list of Chunk
        In document order; every ``text`` starts with :func:`chunk_header` and every
        ``n_tokens <= max_tokens``.

    Raises
    ------
    InvalidValueError
        If the text is empty, or the header alone leaves no room for a body.
    """
    header = chunk_header(title, header_fields) + HEADER_SEPARATOR
    n_special = count_tokens([""])[0]
    budget = max_tokens - count_tokens([header])[0]
    min_body = max(overlap_tokens + 1, n_special + 1)
    if budget < min_body:
        raise InvalidValueError(
            f"chunking: ticker {ticker}: header {header.strip()!r} leaves {budget} of "
            f"max_tokens={max_tokens} tokens for text (need at least {min_body}); shorten the "
            "title or raise max_tokens"
        )
    if max_chunks is not None and len(text) > max_chunks * max_tokens * MAX_CHARS_PER_TOKEN:
        # Only the first max_chunks chunks are kept: tokenise a generous head of the text first;
        # fall back to the whole text if the chunks reached the (possibly cut) last unit of it.
        head = text[: max_chunks * max_tokens * MAX_CHARS_PER_TOKEN]
        args = (budget, max_tokens, overlap_tokens, max_chunks, count_tokens, n_special)
        chunks, reached_end = _pack(ticker, header, head, *args)
        if not reached_end:
            return chunks
    return _pack(
        ticker,
        header,
        text,
        budget,
        max_tokens,
        overlap_tokens,
        max_chunks,
        count_tokens,
        n_special,
    )[0]


def _pack(
    ticker: str,
    header: str,
    text: str,
    budget: int,
    max_tokens: int,
    overlap_tokens: int,
    max_chunks: int | None,
    count_tokens: CountTokens,
    n_special: int,
) -> tuple[list[Chunk], bool]:
    """Pack the units of ``text`` into chunks; also say whether the last unit was used."""
    units, counts, levels = _measured_units(text, budget, count_tokens, n_special)
    if not units:
        raise InvalidValueError(f"chunking: ticker {ticker}: no text to chunk after cleaning")
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    chunks: list[Chunk] = []
    start = 0
    stop = 0
    while start < len(units) and (max_chunks is None or len(chunks) < max_chunks):
        # furthest stop such that units[start:stop] fit; at least one unit (each fits on its own)
        stop = int(np.searchsorted(cumulative, cumulative[start] + budget, side="right")) - 1
        stop = max(stop, start + 1)
        if stop < len(units):
            stop = _cut(start, stop, cumulative, levels, budget)
        body = _join(units[start:stop], levels[start:stop])
        n_tokens = count_tokens([header + body])[0]
        while n_tokens > max_tokens and stop > start + 1:  # tokenizer not additive: shrink
            stop -= 1
            body = _join(units[start:stop], levels[start:stop])
            n_tokens = count_tokens([header + body])[0]
        if n_tokens > max_tokens:
            raise InvalidValueError(
                f"chunking: ticker {ticker}: a sentence of {n_tokens} tokens cannot fit "
                f"max_tokens={max_tokens} even on its own"
            )
        chunks.append(Chunk(ticker, len(chunks), header + body, n_tokens))
        if stop >= len(units):
            break
        start = _overlap_start(start, stop, counts, levels, overlap_tokens, budget)
    return chunks, stop >= len(units) - 1


def _overlap_start(
    start: int, stop: int, counts: np.ndarray, levels: np.ndarray, overlap: int, budget: int
) -> int:
    """First unit of the next chunk: walk back from ``stop`` over at most ``overlap`` tokens."""
    begin = stop
    carried = 0
    while (
        begin - 1 > start
        and levels[begin] != _SECTION
        and carried + counts[begin - 1] <= overlap
        and carried + counts[begin - 1] + counts[stop] <= budget
    ):
        carried += int(counts[begin - 1])
        begin -= 1
    return begin


def content_fingerprint(
    *,
    text: str,
    header: str,
    model_id: str,
    config: ChunkingConfig,
) -> str:
    """Hash of everything a company's embedding depends on.

    Parameters
    ----------
    text : str
        The cleaned description text chosen for the company (cleaning settings are in ``config``
        and its code version in ``CHUNKER_VERSION``).
    header : str
        The header line of the company's chunks (title and any metadata fields).
    model_id : str
        Embedder id (``Embedder.model_id``, includes the Matryoshka dimension).
    config : ChunkingConfig
        Cleaning and chunking settings (the header option among them).

    Returns
    -------
    str
        Hex SHA-256 (first 32 characters); equal inputs give equal fingerprints across processes.
    """
    payload = {
        "text": text,
        "header": header,
        "model": model_id,
        "chunking": asdict(config),
        "version": CHUNKER_VERSION,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode("utf-8"))
    return digest.hexdigest()[:32]


def _empty_chunks() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in CHUNK_COLUMNS})


def _company_chunks(
    ticker: str,
    rows: pd.DataFrame,
    names: pd.DataFrame,
    count_tokens: CountTokens,
    model_id: str,
    config: ChunkingConfig,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Chunks of one company (frame of :data:`CHUNK_COLUMNS`) and the notes on its text.

    Raises
    ------
    DataError
        If the company has no usable text or it cannot be chunked.
    """
    chosen = choose_description(
        ticker,
        rows,
        source_priority=config.source_priority,
        max_chars=config.max_chars,
        min_chars=config.min_chars,
        min_latin_fraction=config.min_latin_fraction,
    )
    title, fields = header_fields(ticker, chosen.title, names, config.header)
    chunks = chunk_description(
        ticker,
        title,
        chosen.clean.text,
        count_tokens,
        config.max_tokens,
        config.overlap_tokens,
        config.max_chunks,
        header_fields=fields,
    )
    fingerprint = content_fingerprint(
        text=chosen.clean.text,
        header=chunk_header(title, fields),
        model_id=model_id,
        config=config,
    )
    frame = pd.DataFrame(
        {
            "ticker": ticker,
            "chunk_index": [c.chunk_index for c in chunks],
            "text": [c.text for c in chunks],
            "n_tokens": [c.n_tokens for c in chunks],
            "source": chosen.source,
            "fingerprint": fingerprint,
            "model": model_id,
            "header": config.header,
        }
    )
    return frame, tuple(chosen.notes)


def chunk_descriptions(
    descriptions: pd.DataFrame,
    companies: pd.DataFrame,
    tickers: Sequence[str],
    count_tokens: CountTokens,
    *,
    model_id: str,
    config: ChunkingConfig,
) -> ChunkingRun:
    """Clean, choose and chunk ``tickers``' descriptions; a bad company is recorded, not fatal.

    Parameters
    ----------
    descriptions : pd.DataFrame
        Columns ticker, text and optionally source, title (several rows per ticker allowed).
    companies : pd.DataFrame
        Columns ticker, name (the header's title), and the columns of the header option's fields
        (``gics_sector`` for ``title+sector``).
    tickers : sequence of str
        Companies to chunk (e.g. the partition keys of a run).
    count_tokens : callable
        The model's tokenizer.
    model_id : str
        Embedder id, for the fingerprint.
    config : ChunkingConfig
        Settings (``max_tokens`` should already be capped by the model's budget).

    Returns
    -------
    ChunkingRun
        Chunks of every ticker that has usable text, and one issue per ticker that has none.

    Raises
    ------
    MissingColumnError
        If a required column is missing.
    """
    require_columns(descriptions, ("ticker", "text"), "descriptions")
    fields = tuple(column for _, column in HEADER_OPTIONS[config.header])
    require_columns(companies, ("ticker", "name", *fields), "companies")
    by_ticker = dict(tuple(descriptions.groupby("ticker", sort=False)))
    names = companies.drop_duplicates("ticker").set_index("ticker")
    empty = descriptions.iloc[0:0]
    frames: list[pd.DataFrame] = []
    issues: list[ChunkIssue] = []
    for ticker in sorted(set(tickers)):
        try:
            frame, notes = _company_chunks(
                ticker, by_ticker.get(ticker, empty), names, count_tokens, model_id, config
            )
        except DataError as error:
            issues.append(ChunkIssue(ticker, "error", str(error)))
            continue
        issues.extend(ChunkIssue(ticker, "note", note) for note in notes)
        frames.append(frame)
    chunks_frame = pd.concat(frames, ignore_index=True) if frames else _empty_chunks()
    chunks_frame["chunk_index"] = chunks_frame["chunk_index"].astype(np.int64)
    chunks_frame["n_tokens"] = chunks_frame["n_tokens"].astype(np.int64)
    return ChunkingRun(chunks=chunks_frame.loc[:, list(CHUNK_COLUMNS)], issues=tuple(issues))


def chunk_violations(chunks: pd.DataFrame, max_tokens: int) -> pd.DataFrame:
    """Chunks that break the chunking contract (the blocking data-quality rule of the warehouse).

    A chunk is in violation when its first line is not a ``Title: ...`` header, its header differs
    from the other chunks of its ticker, ``n_tokens`` is not in ``[1, max_tokens]``, or its
    ``chunk_index`` is outside ``0..n-1`` (``n`` chunks of the ticker) or repeated.

    Parameters
    ----------
    chunks : pd.DataFrame
        Columns ticker, chunk_index, text, n_tokens.
    max_tokens : int
        The token budget the chunks were made for.

    Returns
    -------
    pd.DataFrame
        Columns ticker, chunk_index, problem; empty when every chunk is fine.

    Raises
    ------
    MissingColumnError
        If a column is missing.
    """
    require_columns(chunks, ("ticker", "chunk_index", "text", "n_tokens"), "description_chunks")
    first_line = chunks["text"].str.split("\n", n=1).str[0]
    modal = first_line.groupby(chunks["ticker"]).transform(lambda s: s.mode().iloc[0])
    n_chunks = chunks.groupby("ticker")["chunk_index"].transform("size")
    index_ok = chunks["chunk_index"].between(0, n_chunks - 1) & ~chunks.duplicated(
        ["ticker", "chunk_index"], keep=False
    )
    problems = {
        "no metadata header": ~first_line.str.match(_HEADER_PATTERN),
        "header differs from the ticker's other chunks": first_line != modal,
        f"n_tokens outside [1, {max_tokens}]": ~chunks["n_tokens"].between(1, max_tokens),
        "chunk_index not 0..n-1": ~index_ok,
    }
    rows = [
        chunks.loc[np.asarray(mask), ["ticker", "chunk_index"]].assign(problem=problem)
        for problem, mask in problems.items()
    ]
    return pd.concat(rows, ignore_index=True).sort_values(["ticker", "chunk_index"])
