"""Who is who in the demo universe: names, tickers, sub-industries, listings and AI roles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hedging_pipeline.data.demo_universe.parameters import (
    AI_USER_SHARE,
    LATE_LISTINGS,
    MIN_TICKERS_PER_SUB_INDUSTRY,
    NAME_CODAS,
    NAME_ONSETS,
    TICKER_LENGTH_SHARES,
    TICKER_LENGTHS,
    TICKER_LETTERS,
)
from hedging_pipeline.data.demo_universe.templates import Templates


@dataclass(frozen=True)
class Layout:
    """Who is who: one entry per priced ticker (arrays of length n), plus the unpriced company."""

    tickers: tuple[str, ...]
    names: tuple[str, ...]
    spec_index: np.ndarray  # (n,) index into templates.sub_industries
    listing_day: np.ndarray  # (n,) first trading-day index
    listing_kind: tuple[str, ...]  # "", "ipo" or "spin-off"
    unpriced_ticker: str
    unpriced_name: str
    unpriced_spec: int


def allocate(total: int, weights: Sequence[int], minimum: int) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` over ``weights`` with a floor per bucket."""
    w = np.asarray(weights, dtype=float)
    counts = np.full(len(w), minimum, dtype=np.int64)
    spare = total - counts.sum()
    quota = spare * w / w.sum()
    counts += np.floor(quota).astype(np.int64)
    remainder = quota - np.floor(quota)
    missing = total - counts.sum()
    order = np.lexsort((np.arange(len(w)), -remainder))  # largest remainder first, ties by position
    counts[order[:missing]] += 1
    return counts


def ticker_candidates(root: str, suffix: str, preferred_length: int) -> list[str]:
    """Tickers derived from a name, those of ``preferred_length`` letters first."""
    letters = root.upper()
    skeleton = letters[0] + "".join(c for c in letters[1:] if c not in "AEIOUY")
    tail = suffix.upper()[0]
    raw = [
        skeleton[:3] + tail,
        letters[:3] + tail,
        letters[:4],
        skeleton[:3],
        letters[:3],
        letters[0] + tail,
        letters[:2] + tail,
        skeleton[:2] + tail,
        *(letters[:2] + chr(ord("A") + k) + tail for k in range(26)),
    ]
    low, high = TICKER_LETTERS
    valid = [t for t in dict.fromkeys(raw) if low <= len(t) <= high and t.isalpha()]
    return sorted(valid, key=lambda t: len(t) != preferred_length)  # stable: keeps the order above


def build_layout(
    rng: np.random.Generator, templates: Templates, n_tickers: int, n_days: int
) -> Layout:
    """Draw names and tickers, share the tickers out over the sub-industries and place the late listings."""
    subs = templates.sub_industries
    counts = allocate(n_tickers, [s.weight for s in subs], MIN_TICKERS_PER_SUB_INDUSTRY)
    spec_index = np.repeat(np.arange(len(subs)), counts)
    roots = [onset + coda for onset in NAME_ONSETS for coda in NAME_CODAS]
    roots = [roots[i] for i in rng.permutation(len(roots))[: n_tickers + 1]]
    lengths = rng.choice(TICKER_LENGTHS, size=n_tickers + 1, p=TICKER_LENGTH_SHARES)
    unpriced_spec = int(rng.integers(len(subs)))
    used: set[str] = set()
    tickers: list[str] = []
    names: list[str] = []
    for k, root in enumerate(roots):
        spec = subs[spec_index[k]] if k < n_tickers else subs[unpriced_spec]
        suffix = spec.suffixes[int(rng.integers(len(spec.suffixes)))]
        ticker = next(t for t in ticker_candidates(root, suffix, lengths[k]) if t not in used)
        used.add(ticker)
        tickers.append(ticker)
        names.append(f"{root} {suffix}")
    listing_day = np.zeros(n_tickers, dtype=np.int64)
    kinds = [""] * n_tickers
    sub_names = [s.name for s in subs]
    for sub_name, position, kind in LATE_LISTINGS:
        last_of_sub = int(np.flatnonzero(spec_index == sub_names.index(sub_name))[-1])
        listing_day[last_of_sub] = round(position * (n_days - 1))
        kinds[last_of_sub] = kind
    return Layout(
        tickers=tuple(tickers[:n_tickers]),
        names=tuple(names[:n_tickers]),
        spec_index=spec_index,
        listing_day=listing_day,
        listing_kind=tuple(kinds),
        unpriced_ticker=tickers[n_tickers],
        unpriced_name=names[n_tickers],
        unpriced_spec=unpriced_spec,
    )


def assign_ai_roles(
    rng: np.random.Generator, templates: Templates, layout: Layout
) -> tuple[str, ...]:
    """``maker`` for the AI-maker sub-industries, ``user`` for a share of the others with AI uses."""
    roles = ["none"] * len(layout.tickers)
    for k, spec in enumerate(templates.sub_industries):
        members = np.flatnonzero(layout.spec_index == k)
        if spec.ai_role == "maker":
            for i in members:
                roles[i] = "maker"
        elif spec.ai_use:
            n_users = max(1, round(AI_USER_SHARE * len(members)))
            for i in rng.choice(members, size=n_users, replace=False):
                roles[int(i)] = "user"
    return tuple(roles)
