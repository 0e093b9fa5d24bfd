"""The speed study of the report: measurements (via ``npcnn.bench``), cached, and their
tables and figures.

``measure`` times, one measurement after another in child processes with one BLAS
thread each (as the sweep workers run):

* forward/backward milliseconds per layer for a batch of 100: the loop-based
  references, the vectorized layers and PyTorch (when installed);
* seconds per full epoch (train 55,000 + evaluate 15,000 images) against the channel
  count, npcnn beside PyTorch;
* seconds per full epoch of the original's network against the batch size;
* one training step per channel count against this machine's roofline (its sgemm peak
  and copy bandwidth, measured in the same run; ``npcnn.roofline``), npcnn beside
  PyTorch, on 1 and 2 threads, and each GEMM of the step.

Timings depend on the machine and the code, so the cache key is the parameters, the
CPU, the NumPy version and a hash of the package's source: a rerun on the same machine
with the same code reads the numbers back instead of measuring again.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np

from npcnn import bench, datasets, environment, roofline, store
from npcnn.claims.original import DATASET, ORIGINAL
from npcnn.data import epoch_words
from npcnn.safeio import atomic_write
from npcnn.sweep.tables import Table
from npcnn.threads import worker_environment

# The modules whose code the timings measure; editing the report's own modules does not
# invalidate stored timings.
_TIMED = ("bench", "config", "data", "datasets", "im2col", "layers", "losses", "models", "optim",
          "reference", "roofline", "schedules", "threads", "timing", "trainer", "twin")


def _source_hash() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _TIMED:  # a module, or a package's every module
        for path in sorted([here / f"{name}.py", *(here / name).glob("*.py")]):
            h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()[:12]


def _cache_path(channel_counts: list[int], batch_sizes: list[int], layer_channels: int,
                naive_batch: int, use_torch: bool, runs_dir: str,
                dataset: str, roofline_channels: list[int]) -> tuple[Path, dict]:
    use_torch = bool(use_torch) and environment.torch_available()
    params = {"channel_counts": list(channel_counts), "batch_sizes": list(batch_sizes),
              "roofline_channels": list(roofline_channels),
              "layer_channels": layer_channels, "naive_batch": naive_batch,
              "torch": use_torch, "machine": environment.machine(), "numpy": np.__version__,
              "source": _source_hash()}
    if dataset != datasets.DEFAULT:  # MNIST's stored timings keep their address
        params["dataset"] = dataset
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return store.root_of(runs_dir) / "speed" / f"{key}.json", params


def measure(channel_counts: list[int], batch_sizes: list[int], layer_channels: int = 4,
            naive_batch: int = 4, use_torch: bool = True, runs_dir: str = "",
            remeasure: bool = False, dataset: str = datasets.DEFAULT,
            roofline_channels: tuple[int, ...] = bench.ROOFLINE_CHANNELS) -> dict:
    """All measurements of the speed page, from the cache when the same ones exist.

    Returns
    -------
    dict with ``machine``, ``numpy``, ``layers`` (rows of ``bench.layer_table``),
    ``epochs`` (rows of ``bench.epoch_table``, one per channel count) and ``batch``
    (``{"batch_size", "seconds"}`` rows), ``roofline`` (``bench.roofline_table``, 1 and 2
    threads, at ``roofline_channels``), ``cached`` (bool).
    """
    path, params = _cache_path(channel_counts, batch_sizes, layer_channels, naive_batch,
                               use_torch, runs_dir, dataset, roofline_channels)
    use_torch = params["torch"]
    if path.exists() and not remeasure:
        return {"dataset": dataset, **json.loads(path.read_text()), "cached": True}
    out = {**params, "dataset": dataset}
    out["layers"] = bench.layer_table(channels=layer_channels, batch=100,
                                      naive_batch=naive_batch, threads=1, dataset=dataset)
    out["epochs"] = bench.epoch_table(tuple(channel_counts), epochs=1, threads=(1,),
                                      use_torch=use_torch, log=lambda m: None,
                                      dataset=dataset)
    out["batch"] = [{"batch_size": b, "seconds": s} for b, s in
                    zip(batch_sizes, _batch_epochs(batch_sizes, dataset), strict=True)]
    out["roofline"] = bench.roofline_table(tuple(roofline_channels), use_torch=use_torch,
                                           log=lambda m: None, dataset=dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(out, indent=1).encode())
    return {**out, "cached": False}


def _batch_epochs(batch_sizes: list[int], dataset: str) -> list[float]:
    """Seconds of one full epoch of the original's network per batch size, one after another
    in a single worker process with one BLAS thread."""
    ctx = multiprocessing.get_context("spawn")
    with worker_environment(), cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return [pool.submit(_epoch_seconds, int(b), dataset).result() for b in batch_sizes]


def _epoch_seconds(batch_size: int, dataset: str) -> float:
    from npcnn.config import TrainConfig
    from npcnn.trainer import train

    cfg = TrainConfig(batch_size=batch_size, epochs=1, schedule="constant", threads=1,
                      dataset=dataset)
    return float(train(cfg, progress=False).epochs[0]["seconds"])


# -- presentation ---------------------------------------------------------------------


def layer_rows(m: dict) -> Table:
    """Per-layer forward + backward milliseconds (batch of 100) and the speed-ups."""
    rows = []
    for r in m["layers"]:
        naive = r["naive_fwd"] + r["naive_bwd"]
        fast = r["fast_fwd"] + r["fast_bwd"]
        torch = r.get("torch_fwd", np.nan) + r.get("torch_bwd", np.nan)
        rows.append([r["layer"], round(r["naive_fwd"], 3), round(r["fast_fwd"], 3),
                     round(r.get("torch_fwd", np.nan), 3), round(r["naive_bwd"], 3),
                     round(r["fast_bwd"], 3), round(r.get("torch_bwd", np.nan), 3),
                     f"{naive / fast:.0f}x", f"{fast / torch:.1f}x" if torch == torch else "—"])
    cols = ["layer", "loops fwd ms", "npcnn fwd ms", "PyTorch fwd ms", "loops bwd ms",
            "npcnn bwd ms", "PyTorch bwd ms", "loops / npcnn", "npcnn / PyTorch"]
    cap = (f"Forward and backward of one batch of 100 images, C={m['layer_channels']}; "
           f"the loops were timed on {m['naive_batch']} images and scaled (they are linear "
           "in the batch).")
    return Table(cols, rows, cap)


def layer_plot(m: dict) -> Any:
    from npcnn import plots

    labels = [r["layer"].split("(")[0] + f" {i}" for i, r in enumerate(m["layers"])]
    series = {"loops (reference)": [r["naive_fwd"] + r["naive_bwd"] for r in m["layers"]],
              "npcnn (vectorized)": [r["fast_fwd"] + r["fast_bwd"] for r in m["layers"]]}
    if "torch_fwd" in m["layers"][0]:
        series["PyTorch"] = [r["torch_fwd"] + r["torch_bwd"] for r in m["layers"]]
    return plots.bars(labels, series, "forward + backward, ms (log)",
                      "per-layer time, batch of 100")


def epoch_plot(m: dict) -> Any:
    from npcnn import plots

    x = [r["channels"] for r in m["epochs"]]
    series = {"npcnn": [r["npcnn_epoch_s"] for r in m["epochs"]]}
    if "torch_epoch_s" in m["epochs"][0]:
        series["PyTorch (same network, 1 thread)"] = [r["torch_epoch_s"] for r in m["epochs"]]
    return plots.lines(x, series, "channels C (both conv layers)", "seconds per epoch",
                       f"one epoch: {epoch_words(m.get('dataset', DATASET))}", logy=True)


def batch_plot(m: dict) -> Any:
    from npcnn import plots

    x = [r["batch_size"] for r in m["batch"]]
    return plots.lines(x, {"npcnn, C=4": [r["seconds"] for r in m["batch"]]}, "batch size",
                       "seconds per epoch",
                       "seconds per epoch vs batch size (the original's network)")


def epoch_rows(m: dict) -> Table:
    rows = [[r["channels"], round(r["npcnn_epoch_s"], 2), round(r.get("torch_epoch_s",
             np.nan), 2), round(r["npcnn_eval_s"], 3), round(r["npcnn_acc"], 4)]
            for r in m["epochs"]]
    return Table(["C", "npcnn s/epoch", "PyTorch s/epoch", "npcnn eval of 10k test s",
                  "npcnn test acc after the epoch"], rows,
                 "One full epoch each, one thread; k=3, batch 100, lr 0.01, momentum 0.9")


def roofline_rows(m: dict) -> Table:
    """One training step per channel count and thread count against this machine's
    roofline (``npcnn.roofline``); the payload (kind "roofline") has every number."""
    r = m["roofline"]
    rows = [[x["channels"], (str(x["threads"]) if x["npcnn_threads"] == x["threads"]
             else f"{x['threads']} ({x['npcnn_threads']} used by npcnn)")
             + (" (npcnn on processes)" if x.get("npcnn_processes") else ""),
             round(x["gflop"], 3), round(x["mbytes"], 1), round(x["compute_ms"], 2),
             round(x["memory_ms"], 2), round(x["roofline_ms"], 2), round(x["npcnn_ms"], 2),
             f"{x['npcnn_x']:.1f}x", round(x["torch_ms"], 2) if "torch_ms" in x
             else "not installed", f"{x['torch_x']:.1f}x" if "torch_x" in x else "—"]
            for x in r["rows"]]
    cols = ["C", "threads", "GFLOP", "MB moved", "compute ms", "memory ms", "roofline ms",
            "npcnn ms", "npcnn / roofline", "PyTorch ms", "PyTorch / roofline"]
    return Table(cols, rows, roofline.format_limits(r["limits"]) + "; one step of batch "
                 f"{r['rows'][0]['batch']}, median of 30, PyTorch with the same weights",
                 data={"kind": "roofline", **r})


def gemm_rows(m: dict) -> Table:
    """Each GEMM of each step alone, on one thread as npcnn calls it, against the peak."""
    limits = m["roofline"]["limits"]
    peak = limits["sgemm_gflops"]["1"]
    rows = [[g["channels"], g["name"], g["product"], f"{g['M']} x {g['K']} x {g['N']}",
             g["layout"], round(g["flops"] / 1e6, 2), round(g["gflops"]),
             f"{100 * g['gflops'] / peak:.0f}%"] for g in limits["gemms"]]
    return Table(["C", "layer", "product", "M x K x N", "layout", "MFLOP", "GFLOP/s",
                  "of 1-thread peak"], rows,
                 f"The step's GEMMs one by one (layout: T where an operand is a transposed "
                 f"view); one-thread sgemm peak {peak:.0f} GFLOP/s")


def original_rows(m: dict) -> Table:
    """The original report's seconds per epoch beside ours, for the default network
    (C=4). The original report timed MNIST; an epoch of another dataset of the same image
    size and count costs the same (its row then shows its MNIST epoch)."""
    ours = [r for r in m["epochs"] if r["channels"] == 4]
    spe = ours[0]["npcnn_epoch_s"] if ours else float("nan")
    dataset = m.get("dataset", DATASET)
    data = {"kind": "speed", "seconds_per_epoch": spe, "machine": m["machine"],
            "dataset": datasets.get(dataset).id}
    on = "" if dataset == DATASET else f" (npcnn on {datasets.get(dataset).title})"
    return Table(["", "seconds per epoch (C=4)", "100 epochs", "machine"], [
        ["original report (MNIST)", ORIGINAL["seconds_per_epoch"],
         f"{ORIGINAL['default_hours']:g} h", ORIGINAL["machine"]],
        ["npcnn" + on, round(spe, 2), f"{100 * spe / 60:.1f} min",
         f"{m['machine']}, 1 thread"],
        ["speed-up", f"{ORIGINAL['seconds_per_epoch'] / spe:.0f}x", "", ""],
    ], "The original report's default network, one epoch", data=data)


def environment_table() -> Table:
    """CPU, Python, NumPy and its BLAS, PyTorch, the commit: the top of the page."""
    return Table(["", ""], [list(row) for row in environment.rows()])


__all__ = ["measure", "layer_rows", "layer_plot", "epoch_plot", "batch_plot",
           "epoch_rows", "roofline_rows", "gemm_rows", "original_rows", "environment_table"]
