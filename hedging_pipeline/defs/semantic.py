"""Semantic peers: chunks and company vectors per ticker, then peers, evaluation and a map.

* ``description_chunks`` and ``company_embeddings`` use the dynamic ``tickers`` partitions with
  single-run backfills (one run loads the model once for the whole universe). Each company's
  content fingerprint (cleaned text, header, model, chunking settings; plus pooling for the vector)
  is stored next to its rows: ``company_embeddings`` embeds only the companies whose fingerprint
  changed, so a re-run with unchanged text embeds nothing. The fingerprint is also each partition's
  metadata, and the data version when one ticker runs alone (Dagster records one data version per
  step, not per partition of a range).
* ``company_embeddings`` runs in the ``gpu`` pool and carries GPU op tags, so an executor with GPUs
  (Kubernetes, or a run queue with a gpu pool limit of 1) can place it; the warehouse is touched
  briefly.
* Chunk headers are the seed's ``Title: <company name>``; ``title+sector`` is an opt-in
  (``ChunkingRunConfig.header``), recorded per row, and GICS scores of such text are withheld.
* ``company_embeddings`` also refits the TF-IDF + LSA baseline (model ``tfidf-lsa-100``) on every
  stored company's chunks, so ``embedding_evaluation`` compares both models on the same companies.
* ``semantic_peers`` (``DEFAULT_N_PEERS`` = the hedges' semantic candidates),
  ``embedding_evaluation`` and ``company_clusters`` (map, AI makers vs users, companies between two
  clusters; reports ``semantic_map.md``, ``embedding_evaluation.md``) are unpartitioned.

A company whose text is missing or unusable never stops the others: it is listed in the run's
metadata and in a WARN check.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from hedging_pipeline.data import quality
from hedging_pipeline.defs.common import (
    GPU_POOL,
    GROUP_NLP,
    OWNER,
    WAREHOUSE_POOL,
    frame_metadata,
    plot_metadata,
)
from hedging_pipeline.defs.panels import check_specs
from hedging_pipeline.defs.partitions import PartitionSet
from hedging_pipeline.defs.resources import EmbeddingModelResource, WarehouseResource
from hedging_pipeline.errors import DataError, InvalidValueError
from hedging_pipeline.nlp.baseline import LSA_MODEL_ID, lsa_company_embeddings
from hedging_pipeline.nlp.chunking import (
    CHUNKER_VERSION,
    ChunkingConfig,
    chunk_descriptions,
    chunk_violations,
)
from hedging_pipeline.nlp.clustering import (
    MIN_CLUSTER_SIZE,
    UniverseMap,
    central_members,
    map_universe,
)
from hedging_pipeline.nlp.evaluation import evaluate_models, model_header
from hedging_pipeline.nlp.headers import (
    DEFAULT_HEADER,
    gics_labels_in_headers,
    header_carries_gics,
)
from hedging_pipeline.nlp.peers import DEFAULT_N_PEERS, embeddings_matrix, nearest_peers
from hedging_pipeline.nlp.text import company_texts
from hedging_pipeline.nlp.vectors import embed_companies
from hedging_pipeline.reporting.nlp_report import (
    NAMES_PER_CLUSTER_LABEL,
    ai_view_markdown,
    between_markdown,
    cluster_scatter_png,
    evaluation_markdown,
    peers_markdown,
    semantic_map_markdown,
)
from hedging_pipeline.reporting.tables import frame_to_markdown
from hedging_pipeline.settings import Settings
from hedging_pipeline.types import FloatArray
from hedging_pipeline.warehouse.duckdb import Warehouse

GPU_OP_TAGS = {
    "hedging/accelerator": "gpu",
    "dagster-k8s/config": {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}},
    },
}
"""Where an executor should run ``company_embeddings`` (in-process/multiprocess executors ignore it)."""

FEATURED_TICKERS = ("AAPL", "MSFT", "NVDA", "JPM", "XOM", "JNJ", "AMZN", "GOOGL")
"""Shown in the peers preview when present (else the first tickers)."""
MAX_NOISE_FRACTION = 0.5
"""WARN when HDBSCAN leaves more than this share of companies unclustered."""
MIN_TOP_PEER_SAME_SECTOR = 0.3
"""WARN when fewer top-1 peers share the company's GICS sector (chance is about 1 in 11)."""
_EMPTY_CLUSTERS = pd.DataFrame(
    {
        "ticker": pd.Series(dtype=str),
        "cluster": pd.Series(dtype="int64"),
        "x": pd.Series(dtype=float),
        "y": pd.Series(dtype=float),
    }
)
MAP_PNG = "company_clusters.png"
"""The map's file in the reports folder (``semantic_map.md`` links it)."""
PROGRESS_STEPS = 10
"""Log embedding progress about this many times per run."""


class ChunkingRunConfig(dg.Config):
    """Chunking settings (all enter the content fingerprint); ``max_tokens`` is capped by the model.

    ``header``: ``title`` (default, the seed's ``Title: <company name>``) or ``title+sector``
    (adds the GICS sector; embedding_evaluation then withholds its GICS scores).
    """

    max_tokens: int = ChunkingConfig.max_tokens
    overlap_tokens: int = ChunkingConfig.overlap_tokens
    max_chunks: int = ChunkingConfig.max_chunks
    header: str = DEFAULT_HEADER

    def to_domain(self, model_max_tokens: int) -> ChunkingConfig:
        """The domain settings for a model whose budget is ``model_max_tokens``."""
        return ChunkingConfig(
            max_tokens=min(self.max_tokens, model_max_tokens),
            overlap_tokens=self.overlap_tokens,
            max_chunks=self.max_chunks,
            header=self.header,
        )


class EmbeddingRunConfig(dg.Config):
    """How chunk vectors pool into a company vector (``mean`` or ``token_weighted``)."""

    pooling: str = "mean"


class PeersConfig(dg.Config):
    """Peers kept per company."""

    n_peers: int = DEFAULT_N_PEERS


class ClustersConfig(dg.Config):
    """UMAP seed and HDBSCAN's smallest cluster."""

    seed: int = 0
    min_cluster_size: int = MIN_CLUSTER_SIZE


def _read_or_empty(wh: Warehouse, table: str, **filters) -> pd.DataFrame:
    """``wh.read(table, ...)``, or an empty frame when the table does not exist yet."""
    return wh.read(table, **filters) if wh.has_table(table) else pd.DataFrame()


def _model_embeddings(wh: Warehouse, model: str) -> tuple[tuple[str, ...], FloatArray, str]:
    """Tickers, matrix and chunk header option of ``model``'s vectors in the current universe."""
    universe = wh.read("raw_companies", columns=["ticker"])["ticker"].tolist()
    rows = wh.read("company_embeddings", tickers=universe, where={"model": [model]})
    tickers, matrix = embeddings_matrix(rows, model)
    return tickers, matrix, model_header(rows, model)


def _withheld(header: str) -> str:
    return f"GICS scores withheld: the text's chunk header `{header}` may hold a GICS label"


def _fingerprints(stored: pd.DataFrame) -> dict[str, str]:
    """``{ticker: fingerprint}`` of stored ``company_embeddings`` rows (empty frame: no rows)."""
    if stored.empty:
        return {}
    return dict(zip(stored["ticker"], stored["fingerprint"], strict=True))


def _progress_logger(context: dg.AssetExecutionContext):
    """A ``progress(done, total)`` callback that logs about ``PROGRESS_STEPS`` times per run."""
    logged = {"step": -1}

    def progress(done: int, total: int) -> None:
        step = done * PROGRESS_STEPS // max(total, 1)
        if step > logged["step"]:
            logged["step"] = step
            context.log.info(f"{done}/{total} chunks embedded")

    return progress


def _issues_markdown(issues) -> str:
    frame = pd.DataFrame(
        [(i.ticker, i.severity, i.message) for i in issues],
        columns=["ticker", "severity", "message"],
    )
    return frame_to_markdown(frame, max_rows=50)


def _per_ticker(parts: PartitionSet) -> dict:
    """Decorator arguments shared by the per-ticker assets."""
    return {
        "partitions_def": parts.tickers,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "owners": [OWNER],
        "group_name": GROUP_NLP,
    }


UNIVERSE_WIDE = {"pool": WAREHOUSE_POOL, "owners": [OWNER], "group_name": GROUP_NLP}
"""Decorator arguments shared by the unpartitioned assets."""


def _single_version(tickers: list[str], fingerprints: pd.Series) -> dg.DataVersion | None:
    """The data version of a one-ticker run (its fingerprint); None for a range."""
    if len(tickers) == 1 and len(fingerprints):
        return dg.DataVersion(fingerprints.iloc[0])
    return None


def _chunk_checks(failed: tuple[str, ...], n_tickers: int) -> list[dg.AssetCheckResult]:
    """Check results of ``description_chunks`` (the blocking rule passed when this runs)."""
    return [
        dg.AssetCheckResult(
            check_name="header_and_budget", passed=True, metadata={"violations": 0}
        ),
        _documented_check("companies_with_text", failed, n_tickers, "no usable description"),
    ]


def _raise_on_violations(violations: pd.DataFrame) -> None:
    """Stop ``description_chunks`` (the warehouse keeps its earlier chunks) on a broken chunk."""
    if violations.empty:
        return
    first = violations.iloc[0]
    raise DataError(
        f"description_chunks: {len(violations)} chunks break the header/budget rule, e.g. "
        f"ticker {first['ticker']} chunk {first['chunk_index']}: {first['problem']}"
    )


def _description_chunks_asset(parts: PartitionSet) -> dg.AssetsDefinition:
    @dg.asset(
        deps=["raw_descriptions", "raw_companies"],
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", "pandas"},
        code_version=CHUNKER_VERSION,
        check_specs=check_specs(
            "description_chunks", ["header_and_budget"], ["companies_with_text"]
        ),
        **_per_ticker(parts),
    )
    def description_chunks(
        context: dg.AssetExecutionContext,
        config: ChunkingRunConfig,
        warehouse: WarehouseResource,
        embedding_model: EmbeddingModelResource,
    ) -> dg.MaterializeResult:
        """Cleaned descriptions cut into header-prefixed chunks within the model's token budget."""
        tickers = list(context.partition_keys)
        embedder = embedding_model.get_embedder()
        wh = warehouse.get()
        chunking = config.to_domain(embedder.max_tokens)
        companies = wh.read("raw_companies")
        run = chunk_descriptions(
            wh.read("raw_descriptions", tickers=tickers),
            companies,
            tickers,
            embedder.count_tokens,
            model_id=embedder.model_id,
            config=chunking,
        )
        _raise_on_violations(chunk_violations(run.chunks, chunking.max_tokens))
        wh.replace_rows("description_chunks", run.chunks, keys={"ticker": tickers})
        fingerprints = run.chunks.groupby("ticker")["fingerprint"].first()
        for ticker, fingerprint in fingerprints.items():
            context.add_asset_metadata({"fingerprint": fingerprint}, partition_key=ticker)
        meta = frame_metadata(run.chunks.drop(columns=["fingerprint"]), date_column=None)
        meta.update(
            header=chunking.header,
            headers_with_gics_labels=len(gics_labels_in_headers(run.chunks, companies)),
            token_budget=chunking.max_tokens,
            max_n_tokens=int(run.chunks["n_tokens"].max()) if len(run.chunks) else 0,
            tickers_without_text=dg.MetadataValue.json(list(run.failed_tickers)),
            issues=dg.MetadataValue.md(_issues_markdown(run.issues)),
        )
        return dg.MaterializeResult(
            metadata=meta,
            check_results=_chunk_checks(run.failed_tickers, len(tickers)),
            data_version=_single_version(tickers, fingerprints),
        )

    return description_chunks


def _record_embedding_partitions(context: dg.AssetExecutionContext, run) -> None:
    """Per-ticker metadata of ``company_embeddings``: fingerprint and whether it was embedded."""
    for row in run.embeddings.itertuples(index=False):
        context.add_asset_metadata(
            {"fingerprint": row.fingerprint, "status": "embedded"}, partition_key=row.ticker
        )
    for ticker in run.skipped:
        context.add_asset_metadata({"status": "unchanged (not re-embedded)"}, partition_key=ticker)


def _refit_baseline(wh: Warehouse) -> str:
    """Refit the TF-IDF + LSA baseline on every stored company's chunks; say what was stored."""
    universe = wh.read("raw_companies", columns=["ticker"])["ticker"].tolist()
    try:
        vectors = lsa_company_embeddings(wh.read("description_chunks", tickers=universe))
    except InvalidValueError as error:  # a tiny universe: the transformer rows still count
        return f"not fitted: {error}"
    wh.replace_rows("company_embeddings", vectors, keys={"model": [LSA_MODEL_ID]})
    return f"{LSA_MODEL_ID}: {len(vectors)} companies (refitted on all stored chunks)"


def _company_embeddings_asset(
    parts: PartitionSet, upstream: dg.AssetsDefinition
) -> dg.AssetsDefinition:
    @dg.asset(
        deps=[upstream],
        pool=GPU_POOL,
        op_tags=GPU_OP_TAGS,
        kinds={"pytorch", "duckdb"},
        check_specs=check_specs("company_embeddings", [], ["companies_embedded"]),
        **_per_ticker(parts),
    )
    def company_embeddings(
        context: dg.AssetExecutionContext,
        config: EmbeddingRunConfig,
        warehouse: WarehouseResource,
        embedding_model: EmbeddingModelResource,
    ) -> dg.MaterializeResult:
        """One unit vector per company (pooled chunk embeddings) plus the TF-IDF + LSA baseline; unchanged companies are not re-embedded."""
        tickers = list(context.partition_keys)
        embedder = embedding_model.get_embedder()
        wh = warehouse.get()
        chunks = wh.read("description_chunks", tickers=tickers)
        stored = _read_or_empty(
            wh, "company_embeddings", tickers=tickers, where={"model": [embedder.model_id]}
        )
        run = embed_companies(
            chunks,
            embedder,
            stored_fingerprints=_fingerprints(stored),
            pooling=config.pooling,  # type: ignore[arg-type]
            progress=_progress_logger(context),
        )
        without_chunks = sorted(set(tickers) - set(chunks["ticker"]))
        replaced = [*run.embeddings["ticker"], *without_chunks]  # stale vectors of text-less go
        wh.replace_rows(
            "company_embeddings",
            run.embeddings,
            keys={"ticker": replaced, "model": [embedder.model_id]},
        )
        _record_embedding_partitions(context, run)
        baseline = _refit_baseline(wh)
        meta = {
            "model": embedder.model_id,
            "baseline": baseline,
            "dimension": embedder.dimension,
            "chunks_embedded": run.n_chunks_embedded,
            "companies_embedded": len(run.embeddings),
            "companies_unchanged": len(run.skipped),
            "companies_without_chunks": dg.MetadataValue.json(without_chunks),
        }
        check = _documented_check(
            "companies_embedded", without_chunks, len(tickers), "no chunks (see description_chunks)"
        )
        version = _single_version(tickers, run.embeddings["fingerprint"])
        return dg.MaterializeResult(metadata=meta, check_results=[check], data_version=version)

    return company_embeddings


def _semantic_peers_asset(upstream: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        deps=[upstream],
        kinds={"duckdb", "numpy"},
        check_specs=check_specs("semantic_peers", [], ["top_peer_same_sector"]),
        **UNIVERSE_WIDE,
    )
    def semantic_peers(
        config: PeersConfig, warehouse: WarehouseResource, embedding_model: EmbeddingModelResource
    ) -> dg.MaterializeResult:
        """Each company's nearest companies by cosine similarity of their description vectors."""
        model = embedding_model.model_id
        wh = warehouse.get()
        tickers, matrix, header = _model_embeddings(wh, model)
        peers = nearest_peers(tickers, matrix, k=config.n_peers, model=model)
        wh.replace_rows("semantic_peers", peers, keys={"model": [model]})
        sector = wh.read("raw_companies").set_index("ticker")["gics_sector"]
        top = peers[peers["rank"] == 1]
        same = float((top["ticker"].map(sector) == top["peer"].map(sector)).mean())
        featured = [t for t in FEATURED_TICKERS if t in tickers] or list(tickers[:8])
        meta = frame_metadata(peers, date_column=None)
        meta.update(
            model=model,
            header=header,
            n_peers=config.n_peers,
            featured_peers=dg.MetadataValue.md(peers_markdown(peers, featured)),
        )
        leak = header_carries_gics(header)
        check = dg.AssetCheckResult(
            check_name="top_peer_same_sector",
            passed=leak or same >= MIN_TOP_PEER_SAME_SECTOR,
            severity=dg.AssetCheckSeverity.WARN,
            description=_withheld(header)
            if leak
            else f"{same:.0%} of companies' top peer is in their GICS sector (header `{header}`)",
            metadata={} if leak else {"share": same},
        )
        return dg.MaterializeResult(metadata=meta, check_results=[check])

    return semantic_peers


def _separation_check(table: pd.DataFrame, model: str) -> dg.AssetCheckResult:
    """WARN unless ``model``'s silhouette vs GICS is above 0 (passes when it is withheld)."""
    current = table[table["model"] == model]
    if len(current) and bool(current["gics_in_text"].iloc[0]):
        description, passed = _withheld(str(current["header"].iloc[0])), True
    else:
        silhouette = float(current["silhouette_gics"].iloc[0]) if len(current) else float("nan")
        description = f"silhouette vs GICS of {model}: {silhouette:.3f} (> 0 expected)"
        passed = silhouette > 0
    return dg.AssetCheckResult(
        check_name="sectors_separated",
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
    )


def _embedding_evaluation_asset(upstream: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        deps=[upstream],
        kinds={"duckdb", "scikitlearn"},
        check_specs=check_specs("embedding_evaluation", [], ["sectors_separated"]),
        **UNIVERSE_WIDE,
    )
    def embedding_evaluation(
        warehouse: WarehouseResource, embedding_model: EmbeddingModelResource
    ) -> dg.MaterializeResult:
        """Transformer vs TF-IDF/LSA baseline on the same companies: silhouette, ARI/AMI and peer precision against GICS (withheld for text holding a GICS label)."""
        model = embedding_model.model_id
        wh = warehouse.get()
        universe = wh.read("raw_companies")
        result = evaluate_models(
            wh.read("company_embeddings", tickers=universe["ticker"].tolist()), universe
        )
        wh.replace_table("embedding_evaluation", result.table)
        comparison = evaluation_markdown(result.table)
        (warehouse.reports_dir / "embedding_evaluation.md").write_text(
            f"# Embedding models side by side\n\n{comparison}\n"
        )
        meta = frame_metadata(result.table, date_column=None)
        meta.update(
            comparison=dg.MetadataValue.md(comparison),
            headers=dg.MetadataValue.json(
                dict(zip(result.table["model"], result.table["header"], strict=True))
            ),
            skipped_models=dg.MetadataValue.json(list(result.skipped)),
        )
        return dg.MaterializeResult(
            metadata=meta, check_results=[_separation_check(result.table, model)]
        )

    return embedding_evaluation


def _skipped_map(wh: Warehouse, model: str, error: InvalidValueError) -> dg.MaterializeResult:
    """Too few companies for a map: an empty table, a failed WARN check, the run goes on."""
    wh.replace_table("company_clusters", _EMPTY_CLUSTERS.assign(model=model))
    check = dg.AssetCheckResult(
        check_name="noise_fraction",
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=str(error),
    )
    return dg.MaterializeResult(metadata={"skipped": str(error)}, check_results=[check])


def _map_reports(
    universe: UniverseMap, model: str, header: str, reports_dir: Path
) -> dict[str, Any]:
    """Write the map's PNG and Markdown report; return their metadata entries."""
    frame = universe.clusters.frame
    png = cluster_scatter_png(
        frame, roles=universe.roles, between=universe.between, title=f"Company map ({model})"
    )
    meta = plot_metadata(png, title="company_map", save_to=reports_dir / MAP_PNG)
    ai_md = ai_view_markdown(universe.ai_view)
    between_md = between_markdown(universe.between, central_members(frame, NAMES_PER_CLUSTER_LABEL))
    leak = header_carries_gics(header)
    agreement = (
        _withheld(header)
        if leak
        else f"ARI {universe.ari_gics:.2f}, AMI {universe.ami_gics:.2f} (noise as one label)"
    )
    report = semantic_map_markdown(
        model=model,
        header=header,
        n_clusters=universe.clusters.n_clusters,
        noise_fraction=universe.clusters.noise_fraction,
        gics_agreement=agreement,
        ai_view_md=ai_md,
        between_md=between_md,
        image=MAP_PNG,
    )
    (reports_dir / "semantic_map.md").write_text(report)
    (reports_dir / "ai_makers_vs_users.md").write_text(
        f"# AI makers vs AI users ({model})\n\n{ai_md}\n"
    )
    meta.update(
        ai_makers_vs_users=dg.MetadataValue.md(ai_md),
        between_clusters=dg.MetadataValue.md(between_md),
        between_tickers=dg.MetadataValue.json(universe.between["ticker"].tolist()),
        report=dg.MetadataValue.path(str(reports_dir / "semantic_map.md")),
        hdbscan_vs_gics=agreement,
    )
    if not leak:
        meta.update(ari_gics=universe.ari_gics, ami_gics=universe.ami_gics)
    return meta


def _company_clusters_asset(upstream: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        deps=[upstream, "raw_descriptions"],
        kinds={"duckdb", "umap"},
        check_specs=check_specs("company_clusters", [], ["noise_fraction"]),
        **UNIVERSE_WIDE,
    )
    def company_clusters(
        config: ClustersConfig,
        warehouse: WarehouseResource,
        embedding_model: EmbeddingModelResource,
    ) -> dg.MaterializeResult:
        """UMAP (cosine) + HDBSCAN map of the companies: AI makers vs users, and the companies between two clusters."""
        model = embedding_model.model_id
        wh = warehouse.get()
        tickers, matrix, header = _model_embeddings(wh, model)
        texts = company_texts(wh.read("raw_descriptions", tickers=list(tickers)))
        sectors = wh.read("raw_companies").set_index("ticker")["gics_sector"].to_dict()
        try:
            universe = map_universe(
                tickers,
                matrix,
                texts,
                sectors,
                seed=config.seed,
                min_cluster_size=config.min_cluster_size,
            )
        except InvalidValueError as error:
            return _skipped_map(wh, model, error)
        frame = universe.clusters.frame.assign(model=model)
        wh.replace_table("company_clusters", frame)
        meta = frame_metadata(frame, date_column=None)
        meta.update(_map_reports(universe, model, header, warehouse.reports_dir))
        noise = universe.clusters.noise_fraction
        meta.update(
            header=header,
            n_clusters=universe.clusters.n_clusters,
            noise_fraction=noise,
            n_between_clusters=len(universe.between),
        )
        check = dg.AssetCheckResult(
            check_name="noise_fraction",
            passed=noise <= MAX_NOISE_FRACTION,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{noise:.0%} of companies are HDBSCAN noise (at most {MAX_NOISE_FRACTION:.0%} expected)",
        )
        return dg.MaterializeResult(metadata=meta, check_results=[check])

    return company_clusters


def build_semantic_defs(parts: PartitionSet, settings: Settings) -> dg.Definitions:
    """Assets (with their checks) of the semantic area."""
    chunks = _description_chunks_asset(parts)
    embeddings = _company_embeddings_asset(parts, chunks)
    return dg.Definitions(
        assets=[
            chunks,
            embeddings,
            _semantic_peers_asset(embeddings),
            _embedding_evaluation_asset(embeddings),
            _company_clusters_asset(embeddings),
        ]
    )


def _documented_check(
    name: str, flagged: Sequence[str], n_tickers: int, what: str
) -> dg.AssetCheckResult:
    """A WARN check over flagged tickers that passes when every one is a documented exception.

    The exceptions live in ``hedging_pipeline/config/quality.toml``; the description names the new tickers.
    """
    new, documented = quality.documented_tickers(name, flagged)
    shown = ", ".join(new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
    return dg.AssetCheckResult(
        check_name=name,
        passed=not new,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(new)} of {n_tickers} companies have {what}"
        + (f": {shown}" if new else "")
        + f" ({len(documented)} documented exceptions)",
        metadata={
            "tickers": dg.MetadataValue.json(list(new)),
            "documented_exceptions": dg.MetadataValue.json(list(documented)),
        },
    )
