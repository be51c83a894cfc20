"""CPU of ``company_clusters``' two UMAP fits in a new process: UMAP's own kNN vs exact kNN + on-disk kernels.

Every ``hedging-pipeline run`` (and every test that runs the command) is a new process, and UMAP compiles its
numba kernels in each: the kNN search (its ``cosine`` through scikit-learn, ``fast_knn_indices``) and the
fuzzy-graph and layout kernels. Three ways, each in a fresh interpreter on the same 31 unit vectors (the demo
universe's size), CPU from ``getrusage`` of the child:

* ``umap_knn``: what ``_umap`` did before: ``umap.UMAP(metric="cosine", init="spectral").fit_transform``
  (31 > 2 x 15 neighbours: spectral init, as ``_umap`` chooses), no numba cache;
* ``exact_knn_cold``: ``clustering._umap`` (exact kNN passed as ``precomputed_knn``) with an empty numba cache;
* ``exact_knn_cached``: the same again, the kernels now loaded from that cache.

Each child prints a digest of its two embeddings: equal digests mean bit-identical maps.

    python benchmarks/bench_umap_first_fit.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = """
import hashlib, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
x = rng.normal(size=(31, 384))
unit = x / np.linalg.norm(x, axis=1, keepdims=True)
if sys.argv[1] == "umap_knn":
    import umap
    maps = [umap.UMAP(n_components=d, n_neighbors=15, min_dist=m, metric="cosine", random_state=0,
                      init="spectral").fit_transform(unit) for d, m in ((2, 0.1), (5, 0.0))]
else:
    from hedging_pipeline.nlp.clustering import _umap
    maps = [_umap(unit, d, m, 15, 0) for d, m in ((2, 0.1), (5, 0.0))]
print(hashlib.sha1(b"".join(np.asarray(m, dtype=np.float64).tobytes() for m in maps)).hexdigest()[:12])
"""


def _child(mode: str, cache_dir: str) -> tuple[float, float, str]:
    """(CPU s, wall s, digest) of one fresh interpreter."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, out.stdout.strip().splitlines()[-1]


def main() -> None:
    """Print median CPU and wall seconds of each way."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, str]]] = {}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            rows.setdefault("umap_knn", []).append(_child("umap_knn", cache))
            rows.setdefault("exact_knn_cold", []).append(_child("exact_knn", cache))
            rows.setdefault("exact_knn_cached", []).append(_child("exact_knn", cache))
    print(f"{'way':<18} {'cpu_s':>7} {'wall_s':>7}  digest (median of {args.repeats})")
    for way, runs in rows.items():
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        print(f"{way:<18} {cpu:7.1f} {wall:7.1f}  {sorted({r[2] for r in runs})}")


if __name__ == "__main__":
    main()
