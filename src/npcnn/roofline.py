"""The roofline of one training step: the work a step must do, this machine's limits
measured in the same run, and how many times the roofline a measured step takes.

Work of a step of N images (from the network's ``geometry``, per image; nothing here
writes down a layer's size):

* FLOPs: 2 x the multiply-adds of the step's matrix products (``gemms``), per layer with
  weights its forward, its weight gradient and (except for the first layer with weights,
  whose input gradient nobody needs) its input gradient. Channel-major, as npcnn lays
  them out (P = N*H'*W' output positions, each operand's last axis contiguous)::

      Conv2D   forward  W (F, C*k*k) @ cols (C*k*k, P)                    NN
               dW       dout (F, P) @ cols^T (P, C*k*k)                   NT
               dx       W_rot (C, F*k*k) @ cols(dout) (F*k*k, N*H*W)      NN  (stride 1)
      Linear   forward  x (N, D) @ W (D, M)                               NN
               dW       x^T (D, N) @ dout (N, M)                          TN
               dx       dout (N, M) @ W^T (M, D)                          NT

  The bias (a row of ones under the columns in npcnn), ReLU, pooling, the loss and the
  optimizer add no GEMM FLOPs and are not counted.
* bytes (``step_bytes``): float32 traffic of a step run one layer at a time with nothing
  kept in cache between layers: forward, each layer reads its input and writes its
  output; backward, each layer down to the first with weights reads its output's
  gradient and its saved input and writes its input's gradient (not the first layer
  with weights); the parameters are read in forward and backward, the gradients
  written, and SGD with momentum reads parameters, gradients and velocity and writes
  parameters and velocity. im2col columns are not counted (they are formed in cache).

Limits (``machine_limits``): the sgemm peak, the best rate of a square float32 matmul
(``SGEMM_N``) on 1 and 2 BLAS threads; the copy bandwidth, 2 x the bytes of a large
array copy (read + write, as STREAM counts it) per second. The roofline time of a step is
max(FLOPs / peak, bytes / bandwidth). At batch 100 a step's arrays fit in this
machine's L3, so bytes at the DRAM copy bandwidth is an upper estimate of memory time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from npcnn import thin
from npcnn.batch_split import BatchSplit, ProcessSplit, release
from npcnn.config import TrainConfig
from npcnn.data import load
from npcnn.losses import get_loss
from npcnn.models import build_network, geometry
from npcnn.threads import blas_limit
from npcnn.timing import median_ms
from npcnn.trainer import fresh, train_step
from npcnn.twin import torch_twin

# Side of the square float32 matmul that measures the sgemm peak: 2*1536^3 = 7.2 GFLOP,
# large enough for OpenBLAS's peak on 1 and 2 threads (1024 to 3072 within 5% on the
# 2-core EPYC, measured), short enough to repeat (about 80 ms on one core).
SGEMM_N = 1536
# The array copied to measure bandwidth: 256 MiB, 8x the 32 MiB L3 of the EPYC.
COPY_MIB = 256
FLOAT_BYTES = 4


@dataclass(frozen=True)
class Gemm:
    """One matrix product of a training step: out (M, N) = A (M, K) @ B (K, N).
    ``layout``: N or T per operand, T where it is the transpose of a row-major array
    (as the channel-major layers hold it)."""

    layer: int  # index in the model's layers
    name: str  # the layer's repr
    product: str  # "forward", "dW" or "dx"
    M: int
    K: int
    N: int
    layout: str  # "NN", "NT" or "TN"

    @property
    def flops(self) -> int:
        return 2 * self.M * self.K * self.N


def gemms(geometry: list, batch: int) -> list[Gemm]:
    """The matrix products of one training step of ``batch`` images, layer by layer.

    geometry: rows of ``Sequential.geometry`` (``LayerShape``: kind, in/out shape per
    image, params, macs). A Conv2D's C*k*k is its forward multiply-adds per output value,
    ``macs / (F*H'*W')``; its dx is computed as npcnn does for stride 1, a convolution
    of dout with the rotated filters.
    """
    first = next((i for i, g in enumerate(geometry) if g.params), len(geometry))
    out = []
    for i, g in enumerate(geometry):
        if g.kind == "Conv2D":
            (C, H, W), (F, Ho, Wo) = g.in_shape, g.out_shape
            ckk = g.macs // (F * Ho * Wo)
            P = batch * Ho * Wo
            out += [Gemm(i, g.layer, "forward", F, ckk, P, "NN"),
                    Gemm(i, g.layer, "dW", F, P, ckk, "NT")]
            if i > first:
                out.append(Gemm(i, g.layer, "dx", C, F * (ckk // C), batch * H * W, "NN"))
        elif g.kind == "Linear":
            (D,), (M,) = g.in_shape, g.out_shape
            out += [Gemm(i, g.layer, "forward", batch, D, M, "NN"),
                    Gemm(i, g.layer, "dW", D, batch, M, "TN")]
            if i > first:
                out.append(Gemm(i, g.layer, "dx", batch, M, D, "NT"))
    return out


def step_flops(geometry: list, batch: int) -> int:
    """FLOPs of one training step: the sum over ``gemms``."""
    return sum(g.flops for g in gemms(geometry, batch))


def step_bytes(geometry: list, batch: int) -> int:
    """Bytes one training step moves, counted as the module docstring states."""
    first = next((i for i, g in enumerate(geometry) if g.params), len(geometry))
    size = [(int(np.prod(g.in_shape)), int(np.prod(g.out_shape))) for g in geometry]
    floats = sum(a + b for a, b in size)  # forward: read the input, write the output
    for i in range(first, len(geometry)):  # backward: dout and the saved input read, dx
        a, b = size[i]
        floats += b + a + (a if i > first else 0)
    params = sum(g.params for g in geometry)
    # read in forward and backward, gradients written; SGD: 3 reads, 2 writes.
    return FLOAT_BYTES * (batch * floats + (2 + 1 + 5) * params)


# -- this machine's limits (run in a child process: BLAS threads are set at start) ----
def sgemm_gflops(threads: int, n: int = SGEMM_N, repeat: int = 5) -> float:
    """GFLOP/s of the best of ``repeat`` float32 (n x n) @ (n x n) on ``threads`` BLAS
    threads (best: a peak is what the machine reaches)."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
    c = np.empty((n, n), np.float32)
    with threadpool_limits(threads, user_api="blas"):
        best = min(median_ms(lambda: np.matmul(a, b, out=c), repeat=1) for _ in range(repeat))
    return 2 * n ** 3 / best / 1e6


def copy_gbs(mib: int = COPY_MIB, repeat: int = 5) -> float:
    """GB/s of the best of ``repeat`` copies of a ``mib`` MiB array: 2 x its bytes (read
    and write) per second."""
    src = np.ones(mib << 18, np.float32)
    dst = np.empty_like(src)
    best = min(median_ms(lambda: np.copyto(dst, src), repeat=1) for _ in range(repeat))
    return 2 * src.nbytes / best / 1e6


def gemm_gflops(g: Gemm, repeat: int = 7) -> float:
    """GFLOP/s of ``g`` on random floats of its shape and layout, called as npcnn calls
    it: one np.matmul, or for a convolution's weight gradient (the NT products)
    ``thin.matmul`` (pieces where the BLAS kernel has a path for them)."""
    rng = np.random.default_rng(0)
    a = rng.random((g.K, g.M) if g.layout[0] == "T" else (g.M, g.K), dtype=np.float32)
    b = rng.random((g.N, g.K) if g.layout[1] == "T" else (g.K, g.N), dtype=np.float32)
    a, b = (a.T if g.layout[0] == "T" else a), (b.T if g.layout[1] == "T" else b)
    out, tmp = np.empty((g.M, g.N), np.float32), np.empty((g.M, g.N), np.float32)
    call = ((lambda: thin.matmul(a, b, out, tmp)) if g.product == "dW" and g.layout == "NT"
            else (lambda: np.matmul(a, b, out=out)))
    return g.flops / median_ms(call, repeat) / 1e6


def config(channels: int, threads: int = 1, dataset: str = "mnist") -> TrainConfig:
    """The network whose step is measured: the default one at ``channels``."""
    return TrainConfig(channels=channels, threads=threads, dataset=dataset)


def machine_limits(channels: list[int], batch: int, threads: list[int],
                   dataset: str = "mnist") -> dict:
    """This machine's sgemm peak per thread count, its copy bandwidth, and the GFLOP/s
    of every GEMM of the step of each network (``channels``) on one BLAS thread."""
    peak = {str(t): sgemm_gflops(t) for t in threads}
    with threadpool_limits(1, user_api="blas"):
        rates = [{**asdict(g), "channels": C, "flops": g.flops, "gflops": gemm_gflops(g)}
                 for C in channels for g in gemms(geometry(config(C, dataset=dataset)), batch)]
    return {"sgemm_gflops": peak, "sgemm_n": SGEMM_N, "copy_gbs": copy_gbs(),
            "copy_mib": COPY_MIB, "gemms": rates, "blas_kernel": thin.kernel(),
            "thin_pieces": thin.small_kernel()}


def step_ms(library: str, channels: int, threads: int, batch: int, dataset: str = "mnist",
            repeat: int = 30) -> dict:
    """Milliseconds of one training step (forward, loss, backward, SGD update) on the
    first ``batch`` training images, the median of ``repeat``; npcnn as its trainer runs
    it (``threads`` as ``TrainConfig.threads``; BLAS on one thread), PyTorch
    (``library="torch"``) on a twin with the same initial weights and
    ``torch.set_num_threads(threads)``. Also says how many cores npcnn used, and whether
    on processes (``npcnn.batch_split.ProcessSplit``)."""
    cfg = config(channels, threads, dataset)
    x, y = (a[:batch] for a in load(dataset)[:2])
    if library == "npcnn":
        model, opt = fresh(cfg)
        loss = get_loss(cfg.loss)
        # One BLAS thread, as train() runs its loop: a second one would compete with the
        # batch split's other part for the second core.
        try:
            with blas_limit(1):
                ms = median_ms(lambda: train_step(model, loss, opt, x, y), repeat)
        finally:
            release(model)  # a ProcessSplit's workers stop here, not at exit
        return {"ms": ms, "threads": model.threads if isinstance(model, BatchSplit) else 1,
                "processes": isinstance(model, ProcessSplit)}
    import torch  # the optional dependency: only for its own measurement

    torch.set_num_threads(threads)
    net = torch_twin(build_network(cfg))
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    xb, yb = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(net(xb), yb).backward()
        opt.step()
    return {"ms": median_ms(step, repeat), "threads": torch.get_num_threads()}


# -- the table ------------------------------------------------------------------------
def rows(work: dict[int, list], limits: dict, steps: list[dict], batch: int) -> list[dict]:
    """One row per measured step: work (``work``: channels -> geometry), the roofline at
    its thread count and how many times it the measured steps took.

    steps: dicts with ``channels``, ``threads``, ``npcnn_ms``, ``npcnn_threads``,
    ``npcnn_processes`` (its parts ran in processes) and (PyTorch installed) ``torch_ms``.
    """
    out = []
    for s in steps:
        geo = work[s["channels"]]
        flops, nbytes = step_flops(geo, batch), step_bytes(geo, batch)
        peak = limits["sgemm_gflops"][str(s["threads"])]
        compute, memory = flops / peak / 1e6, nbytes / limits["copy_gbs"] / 1e6
        roof = max(compute, memory)
        row = {**s, "batch": batch, "gflop": flops / 1e9, "mbytes": nbytes / 1e6,
               "peak_gflops": peak, "copy_gbs": limits["copy_gbs"], "compute_ms": compute,
               "memory_ms": memory, "roofline_ms": roof, "npcnn_x": s["npcnn_ms"] / roof}
        if "torch_ms" in s:
            row["torch_x"] = s["torch_ms"] / roof
        out.append(row)
    return out


def format_limits(limits: dict) -> str:
    peak = ", ".join(f"{v:.0f} GFLOP/s on {t} thread{'s' if t != '1' else ''}"
                     for t, v in limits["sgemm_gflops"].items())
    return (f"sgemm peak ({limits['sgemm_n']}^2 float32 matmul, best of 5): {peak}; "
            f"copy bandwidth ({limits['copy_mib']} MiB array, read + write): "
            f"{limits['copy_gbs']:.1f} GB/s; BLAS kernel "
            f"{limits.get('blas_kernel') or 'not OpenBLAS'} (thin dW products "
            f"{'in pieces' if limits.get('thin_pieces') else 'as one call'}: npcnn.thin)")


def format_table(table: list[dict]) -> str:
    """The roofline rows as a Markdown table (PyTorch's cells "not installed" without it)."""
    lines = ["| C | threads | GFLOP | MB | compute ms | memory ms | roofline ms | "
             "npcnn ms | x roofline | PyTorch ms | x roofline |", "|" + "---|" * 11]
    for r in table:
        torch = (f"{r['torch_ms']:.2f} | {r['torch_x']:.1f}x" if "torch_ms" in r
                 else "not installed | —")
        used = "" if r["npcnn_threads"] == r["threads"] else f" ({r['npcnn_threads']} used)"
        used += " (npcnn: processes)" if r.get("npcnn_processes") else ""
        lines.append(f"| {r['channels']} | {r['threads']}{used} | {r['gflop']:.3f} | "
                     f"{r['mbytes']:.1f} | {r['compute_ms']:.2f} | {r['memory_ms']:.2f} | "
                     f"{r['roofline_ms']:.2f} | {r['npcnn_ms']:.2f} | {r['npcnn_x']:.1f}x | "
                     f"{torch} |")
    return "\n".join(lines)


def format_gemms(limits: dict) -> str:
    """Each GEMM of each network's step on one thread, against the one-thread peak."""
    peak = limits["sgemm_gflops"]["1"]
    lines = ["| C | layer | product | M x K x N | layout | MFLOP | GFLOP/s | of peak |",
             "|" + "---|" * 8]
    for g in limits["gemms"]:
        lines.append(f"| {g['channels']} | {g['name']} | {g['product']} | "
                     f"{g['M']} x {g['K']} x {g['N']} | {g['layout']} | "
                     f"{g['flops'] / 1e6:.2f} | {g['gflops']:.0f} | "
                     f"{100 * g['gflops'] / peak:.0f}% |")
    return "\n".join(lines)


__all__ = ["SGEMM_N", "COPY_MIB", "Gemm", "gemms", "step_flops", "step_bytes",
           "sgemm_gflops", "copy_gbs", "gemm_gflops", "config", "machine_limits", "step_ms", "rows",
           "format_limits", "format_table", "format_gemms"]
