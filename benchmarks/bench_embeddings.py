"""Benchmark of the semantic-peers area on the real descriptions (issue 5).

Measures, on this machine's CPU with the packaged all-MiniLM-L6-v2:

1. chunking time and chunk counts for the whole universe;
2. embedding throughput (chunks per second) at the chunk budget used by the pipeline;
3. quality against GICS (silhouette, ARI/AMI of k-means, peer precision@10) for several caps on the
   number of chunks per company (the first c chunks, pooled by mean), to choose the default cap;
4. chunks re-embedded on a second run with unchanged text (must be 0);
5. time to compute all peers (vectorised vs a naive per-company loop);
6. the UMAP + HDBSCAN map: clusters, noise, ARI vs GICS, and the AI makers/users view.

Run: ``.venv/bin/python benchmarks/bench_embeddings.py [--raw-dir ../shared/data] [--caps 1,2,4,6,8]
[--compare-sources]``. Prints a Markdown summary; writes the map to ``--png`` if given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from hedging_pipeline.nlp.chunking import ChunkingConfig, chunk_descriptions
from hedging_pipeline.nlp.clustering import NOISE, ai_cluster_view, ai_roles, cluster_companies
from hedging_pipeline.nlp.embedding import DEFAULT_EMBEDDING_MODEL, load_embedder
from hedging_pipeline.nlp.evaluation import evaluate_embeddings
from hedging_pipeline.nlp.peers import nearest_peers
from hedging_pipeline.nlp.text import clean_description
from hedging_pipeline.nlp.vectors import embed_companies, pool_chunk_embeddings
from hedging_pipeline.reporting.nlp_report import ai_view_markdown, cluster_scatter_png

warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parents[1]


def naive_peers(tickers, matrix, k):
    """Per-company loop with Python sorting: the approach the vectorised version replaces."""
    out = []
    for i, t in enumerate(tickers):
        sims = [(float(matrix[i] @ matrix[j]), u) for j, u in enumerate(tickers) if j != i]
        sims.sort(key=lambda s: (-s[0], s[1]))
        out.extend((t, u, r + 1, s) for r, (s, u) in enumerate(sims[:k]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--caps", default="1,2,4,6,8")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--compare-sources", action="store_true")
    parser.add_argument("--png", default="")
    args = parser.parse_args()
    caps = sorted(int(c) for c in args.caps.split(","))
    raw = Path(args.raw_dir)
    descriptions = pd.read_parquet(raw / "descriptions.parquet")
    companies = pd.read_parquet(raw / "companies.parquet")
    sector_of = companies.set_index("ticker")["gics_sector"].to_dict()
    print(
        f"machine: {platform.machine()}, nproc {os.cpu_count()}, torch threads "
        f"{torch.get_num_threads()}, date {dt.date.today()}, load avg {os.getloadavg()}"
    )

    t0 = time.perf_counter()
    embedder = load_embedder(DEFAULT_EMBEDDING_MODEL, device="cpu", batch_size=args.batch_size)
    print(
        f"model load: {time.perf_counter() - t0:.1f} s ({embedder.model_id}, "
        f"max_tokens {embedder.max_tokens})"
    )
    config = ChunkingConfig(max_tokens=embedder.max_tokens, max_chunks=max(caps))
    t0 = time.perf_counter()
    run = chunk_descriptions(
        descriptions,
        companies,
        companies["ticker"].tolist(),
        embedder.count_tokens,
        model_id=embedder.model_id,
        config=config,
    )
    chunk_s = time.perf_counter() - t0
    chunks = run.chunks
    print(
        f"chunking: {chunk_s:.1f} s, {len(chunks)} chunks for {chunks['ticker'].nunique()} "
        f"tickers (cap {max(caps)}), {len(run.failed_tickers)} tickers without text, "
        f"mean n_tokens {chunks['n_tokens'].mean():.0f}, max {chunks['n_tokens'].max()}"
    )
    per_ticker = chunks.groupby("ticker").size()
    for cap in caps:
        print(f"  chunks at cap {cap}: {int(per_ticker.clip(upper=cap).sum())}")

    t0 = time.perf_counter()
    vectors = embedder.embed(chunks["text"].tolist())
    embed_s = time.perf_counter() - t0
    rate = len(chunks) / embed_s
    print(
        f"embedding: {len(chunks)} chunks in {embed_s:.1f} s = {rate:.1f} chunks/s "
        f"(load avg now {os.getloadavg()[0]:.1f})"
    )

    print(
        "\n| chunks per company | chunks | est. embed s | silhouette | ARI | AMI | peer prec@10 |"
    )
    print("|---|---|---|---|---|---|---|")
    pooled_by_cap = {}
    for cap in caps:
        keep = (chunks["chunk_index"] < cap).to_numpy()
        pooled = pool_chunk_embeddings(chunks.loc[keep, "ticker"].tolist(), vectors[keep])
        pooled_by_cap[cap] = pooled
        ev = evaluate_embeddings(
            pooled.tickers,
            pooled.embeddings,
            [sector_of.get(t) for t in pooled.tickers],
            model=embedder.model_id,
        )
        print(
            f"| {cap} | {int(keep.sum())} | {keep.sum() / rate:.0f} | {ev.silhouette_gics:.4f} | "
            f"{ev.ari_gics:.3f} | {ev.ami_gics:.3f} | {ev.peer_sector_precision:.3f} |"
        )

    # incremental: the stored fingerprints of a first run make the second one embed nothing
    first = embed_companies(chunks[chunks["chunk_index"] < 1], embedder)
    stored = dict(zip(first.embeddings["ticker"], first.embeddings["fingerprint"], strict=True))
    t0 = time.perf_counter()
    second = embed_companies(
        chunks[chunks["chunk_index"] < 1], embedder, stored_fingerprints=stored
    )
    print(
        f"\nsecond run, unchanged text: {second.n_chunks_embedded} chunks re-embedded, "
        f"{len(second.skipped)} tickers skipped, {time.perf_counter() - t0:.3f} s"
    )

    pooled = pooled_by_cap[config.max_chunks if config.max_chunks in pooled_by_cap else max(caps)]
    tickers, matrix = pooled.tickers, pooled.embeddings
    timings = []
    for _ in range(20):
        t0 = time.perf_counter()
        peers = nearest_peers(tickers, matrix, k=20, model=embedder.model_id)
        timings.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    naive = naive_peers(tickers, matrix, 20)
    naive_s = time.perf_counter() - t0
    assert len(naive) == len(peers)
    print(
        f"all peers (n={len(tickers)}, k=20): vectorised median {np.median(timings) * 1e3:.1f} ms"
        f", naive loop {naive_s * 1e3:.0f} ms"
    )

    t0 = time.perf_counter()
    cmap = cluster_companies(tickers, matrix, seed=0)
    cluster_s = time.perf_counter() - t0
    frame = cmap.frame
    truth = frame["ticker"].map(sector_of).fillna("?").to_numpy()
    labels = frame["cluster"].to_numpy()
    clustered = labels != NOISE
    print(
        f"UMAP+HDBSCAN: {cluster_s:.1f} s, {cmap.n_clusters} clusters, noise "
        f"{cmap.noise_fraction:.1%}, ARI vs GICS {adjusted_rand_score(truth, labels):.3f} "
        f"(noise as a label), {adjusted_rand_score(truth[clustered], labels[clustered]):.3f} "
        f"(clustered only), AMI {adjusted_mutual_info_score(truth, labels):.3f}"
    )
    texts = {}
    for ticker, rows in descriptions.groupby("ticker"):
        parts = []
        for text in rows["text"]:
            try:
                parts.append(clean_description(text, ticker=ticker).text)
            except ValueError:
                continue
        texts[ticker] = "\n".join(parts)
    roles = ai_roles({t: texts.get(t, "") for t in tickers})
    print(f"AI roles: {roles['role'].value_counts().to_dict()}")
    print("makers:", ", ".join(roles.loc[roles["role"] == "maker", "ticker"]))
    view = ai_cluster_view(frame, roles)
    print(ai_view_markdown(view.head(8)))
    if args.png:
        Path(args.png).write_bytes(cluster_scatter_png(frame, roles=roles))
        print(f"map written to {args.png}")

    if args.compare_sources:
        cap = min(4, max(caps))
        tenk = ChunkingConfig(
            max_tokens=embedder.max_tokens,
            max_chunks=cap,
            source_priority=("sec_10k_item1", "wikipedia"),
        )
        alt = chunk_descriptions(
            descriptions,
            companies,
            list(tickers),
            embedder.count_tokens,
            model_id=embedder.model_id,
            config=tenk,
        ).chunks
        alt_vectors = embedder.embed(alt["text"].tolist())
        alt_pooled = pool_chunk_embeddings(alt["ticker"].tolist(), alt_vectors)
        ev = evaluate_embeddings(
            alt_pooled.tickers,
            alt_pooled.embeddings,
            [sector_of.get(t) for t in alt_pooled.tickers],
            model="10-K first",
        )
        print(
            f"10-K first, cap {cap}: silhouette {ev.silhouette_gics:.4f}, ARI {ev.ari_gics:.3f}, "
            f"AMI {ev.ami_gics:.3f}, peer prec@10 {ev.peer_sector_precision:.3f}"
        )


if __name__ == "__main__":
    main()
