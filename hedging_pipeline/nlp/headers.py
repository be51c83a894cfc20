"""The header line of every chunk: the company's title, and optional metadata fields.

The default (the seed's) is ``Title: <company name>``. Any other metadata is an option whose name
says what it adds (:data:`HEADER_OPTIONS`), e.g. ``title+sector`` gives
``Title: Apple Inc. | Sector: Information Technology``. An option that writes a GICS label into the
text makes GICS-based scores of its embeddings circular (:func:`header_carries_gics`);
:func:`gics_labels_in_headers` finds such labels in stored chunks.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hedging_pipeline.data.validation import require_columns

DEFAULT_HEADER = "title"
"""The seed's header: ``Title: <company name>`` and nothing else."""

HEADER_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "title": (),
    "title+sector": (("Sector", "gics_sector"),),
}
"""Header option -> the ``(label, companies column)`` fields appended after the title."""

GICS_COLUMNS = ("gics_sector", "gics_industry_group", "gics_industry", "gics_sub_industry")
"""Classification columns of ``companies``: none may appear in a header scored against GICS."""

FIELD_SEPARATOR = " | "
"""Between the header's fields."""


def header_carries_gics(header: str) -> bool:
    """Whether header option ``header`` puts a GICS classification label into the text.

    An unknown option (e.g. rows stored before the option was recorded) counts as carrying one.
    """
    if header not in HEADER_OPTIONS:
        return True
    return any(column in GICS_COLUMNS for _, column in HEADER_OPTIONS.get(header, ()))


def chunk_header(title: str, fields: Sequence[tuple[str, str]] = ()) -> str:
    """Return the header line of every chunk: ``Title: <title>`` then ``| Label: value`` fields.

    ``chunk_header("Apple Inc.")`` is ``Title: Apple Inc.``;
    ``chunk_header("Apple Inc.", [("Sector", "IT")])`` is ``Title: Apple Inc. | Sector: IT``.
    """
    parts = [f"Title: {' '.join(title.split())}"]
    parts.extend(f"{label}: {' '.join(value.split())}" for label, value in fields)
    return FIELD_SEPARATOR.join(parts)


def header_fields(
    ticker: str, description_title: str, names: pd.DataFrame, header: str
) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Header title (company name, else the description's title, else the ticker) and fields.

    Parameters
    ----------
    ticker : str
        The company.
    description_title : str
        Title of its chosen description (used when ``names`` has no name for it).
    names : pd.DataFrame
        ``companies`` indexed by ticker (column name and the option's field columns).
    header : str
        Header option.

    Returns
    -------
    tuple
        The title and the ``(label, value)`` fields (``Unknown`` for a missing value).
    """
    row = names.loc[ticker] if ticker in names.index else None
    name = row["name"] if row is not None else None
    title = name if isinstance(name, str) and name.strip() else description_title or ticker
    fields = []
    for label, column in HEADER_OPTIONS[header]:
        value = row[column] if row is not None else None
        fields.append((label, value if isinstance(value, str) and value.strip() else "Unknown"))
    return title, tuple(fields)


def gics_labels_in_headers(chunks: pd.DataFrame, companies: pd.DataFrame) -> pd.DataFrame:
    """Chunks whose header carries classification metadata beside the company's own name.

    The header line is split into fields on ``" | "``; the first is the title. A chunk is listed
    when any other field is labelled like a GICS level (``Sector:``, ``Industry Group:``,
    ``Industry:``, ``Sub-Industry:``) or holds one of the company's own GICS labels (any of
    :data:`GICS_COLUMNS` present in ``companies``, compared without case). A company whose name
    happens to contain a sector word (``Devon Energy``) is not listed: the title is its name.

    Parameters
    ----------
    chunks : pd.DataFrame
        Columns ticker, chunk_index, text.
    companies : pd.DataFrame
        Columns ticker and any of :data:`GICS_COLUMNS`.

    Returns
    -------
    pd.DataFrame
        Columns ticker, chunk_index, field (the offending header field); empty when no header
        carries classification metadata.
    """
    require_columns(chunks, ("ticker", "chunk_index", "text"), "description_chunks")
    levels = [c for c in GICS_COLUMNS if c in companies.columns]
    labels = companies.drop_duplicates("ticker").set_index("ticker")[levels]
    keys = ("sector:", "industry group:", "industry:", "sub-industry:", "gics")
    rows = []
    for ticker, index, text in chunks[["ticker", "chunk_index", "text"]].itertuples(index=False):
        fields = text.split("\n", 1)[0].split(FIELD_SEPARATOR)[1:]
        own = (
            {str(v).strip().lower() for v in labels.loc[ticker] if isinstance(v, str)}
            if ticker in labels.index
            else set()
        )
        for item in fields:
            lowered = item.strip().lower()
            value = lowered.split(":", 1)[-1].strip()
            if lowered.startswith(keys) or value in own or lowered in own:
                rows.append((ticker, index, item))
    return pd.DataFrame(rows, columns=["ticker", "chunk_index", "field"])
