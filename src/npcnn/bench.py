"""Speed benchmark: npcnn against PyTorch CPU on the original's network, side by side.

``python -m npcnn bench`` (or ``make bench``) measures, in one run:

* seconds per epoch as a user waits for it: training on the 55,000 training images
  (batch 100) plus evaluating the 5,000 validation and 10,000 test images, at C=4 and
  C=16; npcnn through ``npcnn.train`` itself, PyTorch with the same network, initial
  weights, batch order, optimizer and evaluation, at the same thread count;
* evaluation time of the 10,000 test images;
* forward/backward time per layer: vectorized layers vs the loop-based references
  (``npcnn.reference``) vs PyTorch;
* one training step of batch 100 at C=4, 16, 32 (and ``--channels``), on 1 and 2
  threads, against this machine's roofline (``npcnn.roofline``: the step's FLOPs and
  bytes, the sgemm peak and copy bandwidth measured in the same run), npcnn and PyTorch,
  and each GEMM of the step (``--roofline-only``: this table alone);
* peak memory (max RSS) of each measuring process.

Thread counts: ``--threads 1 2`` gives both libraries the same count (npcnn: its batch
split run on that many cores, BLAS at one thread, on processes where they pay
(``npcnn.batch_split.PROCESS_MIN_MACS``); PyTorch: ``torch.set_num_threads``).
``--defaults`` instead runs each library as a user gets it: npcnn with
``TrainConfig(threads=0)`` (``npcnn.batch_split.threads_for``), PyTorch with its own default
``torch.get_num_threads()``, and no thread variables in either child's environment.

Every measurement runs in its own child process so thread settings (which OpenBLAS and
PyTorch read at start-up) and peak memory are per measurement, and the measurements run
one after another, never at once. Times are medians. PyTorch is optional (``bench``
extra, ``torch==2.13.0``); without it only npcnn's columns are filled.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from npcnn import roofline
from npcnn.data import DataError, check, epoch_words
from npcnn.environment import cpu, machine, torch_available
from npcnn.models import geometry
from npcnn.text import one_line
from npcnn.threads import BLAS_VARS
from npcnn.timing import median_ms
from npcnn.twin import torch_twin

# The channel counts the roofline table always has (``--channels`` adds to them).
ROOFLINE_CHANNELS = (4, 16, 32)


# -- child-side measurements ---------------------------------------------------------
def _config(channels: int, epochs: int = 1, threads: int = 1, dataset: str = "mnist"):
    from npcnn.config import TrainConfig

    return TrainConfig(channels=channels, epochs=epochs, schedule="constant", threads=threads,
                       dataset=dataset)


def _npcnn_epochs(channels: int, epochs: int, threads: int, dataset: str = "mnist") -> dict:
    """threads: as ``TrainConfig.threads`` (0: npcnn's default, auto)."""
    from npcnn.batch_split import BatchSplit, ProcessSplit
    from npcnn.data import load
    from npcnn.trainer import evaluate, train

    cfg = _config(channels, epochs, threads, dataset)
    data = load(dataset)
    result = train(cfg, progress=False, data=data)
    from npcnn.losses import get_loss

    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        evaluate(result.model, get_loss("softmax"), data[2], data[3], cfg.eval_batch_size)
        t.append(time.perf_counter() - t0)
    return {"epoch_s": [e["seconds"] for e in result.epochs], "eval10k_s": t,
            "test_acc": result.final_test_acc,
            "threads": result.model.threads if isinstance(result.model, BatchSplit) else 1,
            "chunks": result.model.chunks if isinstance(result.model, BatchSplit) else 1,
            "processes": isinstance(result.model, ProcessSplit)}


def _torch_epochs(channels: int, epochs: int, threads: int, dataset: str = "mnist") -> dict:
    """threads: for ``torch.set_num_threads``; 0 keeps PyTorch's default."""
    import numpy as np
    import torch

    from npcnn.data import load, split
    from npcnn.models import build_network

    if threads:
        torch.set_num_threads(threads)
    x_train, y_train, x_test, y_test = load(dataset)
    x_tr, y_tr, x_val, y_val = split(x_train, y_train)
    cfg = _config(channels, epochs, dataset=dataset)
    net = torch_twin(build_network(cfg))  # the same initial weights as npcnn's run
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs, ys = torch.from_numpy(np.array(x_tr)), torch.from_numpy(np.array(y_tr))
    evalsets = [(torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y)))
                for x, y in ((x_val, y_val), (x_test, y_test))]

    def evaluate(x, y):
        with torch.no_grad():
            correct, total = 0, 0.0
            for i in range(0, len(x), 1000):
                s = net(x[i:i + 1000])
                total += float(loss_fn(s, y[i:i + 1000])) * len(s)
                correct += int((s.argmax(1) == y[i:i + 1000]).sum())
        return total / len(x), correct / len(x)

    times, acc = [], 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch]).permutation(len(xs)))
        for i in range(0, len(xs), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xs[idx]), ys[idx]).backward()
            opt.step()
        for x, y in evalsets:
            _, acc = evaluate(x, y)
        times.append(time.perf_counter() - t0)
    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        evaluate(*evalsets[1])
        t.append(time.perf_counter() - t0)
    return {"epoch_s": times, "eval10k_s": t, "test_acc": acc,
            "threads": torch.get_num_threads()}


def _layers(channels: int, batch: int, naive_batch: int, threads: int,
            dataset: str = "mnist") -> dict:
    """Per-layer forward/backward milliseconds for a batch of ``batch`` images."""
    import numpy as np

    from npcnn import datasets
    from npcnn import reference as ref
    from npcnn.models import build_network

    rng = np.random.default_rng(0)
    model = build_network(_config(channels, dataset=dataset))
    x = rng.random((batch, *datasets.get(dataset).image_shape), dtype=np.float32)
    rows = []
    h = x
    for layer in model.layers:
        xin = h
        fwd = median_ms(lambda layer=layer, xin=xin: layer.forward(xin))
        out = layer.forward(xin)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        bwd = median_ms(lambda layer=layer, dout=dout: layer.backward(dout))
        naive = _naive_ms(layer, xin[:naive_batch].astype(np.float64),
                          dout[:naive_batch].astype(np.float64), ref)
        scale = batch / naive_batch  # the loops are linear in the batch size
        rows.append({"layer": repr(layer), "fast_fwd": fwd, "fast_bwd": bwd,
                     "naive_fwd": naive[0] * scale, "naive_bwd": naive[1] * scale})
        h = out
    try:
        import torch
    except ImportError:
        return {"rows": rows, "torch": False}
    torch.set_num_threads(threads)
    tl = list(torch_twin(model))
    h = torch.from_numpy(x)
    for i, (row, layer) in enumerate(zip(rows, tl, strict=True)):
        # Same work as training: the first layer's input gradient is never computed.
        xin = h.detach().requires_grad_(i > 0)
        row["torch_fwd"] = median_ms(lambda layer=layer, xin=xin: layer(xin))
        y = layer(xin)
        g = torch.randn_like(y)
        wrt = ([xin] if i > 0 else []) + list(layer.parameters())
        row["torch_bwd"] = median_ms(
            lambda y=y, g=g, wrt=wrt: torch.autograd.grad(y, wrt, g, retain_graph=True))
        h = y.detach()
    return {"rows": rows, "torch": True}


def _naive_ms(layer, x, dout, ref) -> tuple[float, float]:
    name = type(layer).__name__
    if name == "Conv2D":
        W, b = layer.params["W"].astype(float), layer.params["b"].astype(float)
        s, p = layer.stride, layer.padding
        return (median_ms(lambda: ref.conv2d_forward(x, W, b, s, p), repeat=1),
                median_ms(lambda: ref.conv2d_backward(dout, x, W, s, p), repeat=1))
    if name == "AvgPool2D":
        k = layer.k
        return (median_ms(lambda: ref.avgpool2d_forward(x, k), repeat=1),
                median_ms(lambda: ref.avgpool2d_backward(dout, x.shape, k), repeat=1))
    if name == "ReLU":
        return (median_ms(lambda: ref.relu_forward(x)),
                median_ms(lambda: ref.relu_backward(dout, x)))
    if name == "Linear":
        W, b = layer.params["W"].astype(float), layer.params["b"].astype(float)
        return (median_ms(lambda: ref.linear_forward(x, W, b)),
                median_ms(lambda: ref.linear_backward(dout, x, W)))
    return (median_ms(lambda: x.reshape(len(x), -1)),
            median_ms(lambda: dout.reshape(x.shape)))


def _child() -> None:
    import resource

    job = json.loads(sys.argv[1])
    kind = job.pop("kind")
    fn = {"npcnn": _npcnn_epochs, "torch": _torch_epochs, "layers": _layers,
          "limits": roofline.machine_limits, "step": roofline.step_ms}[kind]
    out = fn(**job)
    out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


# -- parent side -----------------------------------------------------------------------
def run_job(kind: str, blas_threads: int | None = 1, **job) -> dict:
    """Run one measurement in a fresh interpreter; returns its JSON result.
    ``blas_threads``: the BLAS/OpenMP thread variables for the child; None removes them,
    so that each library picks its own default."""
    env = dict(os.environ, TQDM_DISABLE="1")
    for v in BLAS_VARS:
        env.pop(v, None)
    if blas_threads is not None:
        env.update({v: str(blas_threads) for v in BLAS_VARS})
    code = "from npcnn.bench import _child; _child()"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps({"kind": kind, **job})],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} benchmark failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def epoch_table(channels=(4, 16), epochs: int = 3, threads=(1,), use_torch=True,
                log=print, dataset: str = "mnist") -> list[dict]:
    """Median seconds per epoch (train + eval of 15k images) and 10k-image evaluation.

    A thread count of 0 means both libraries' defaults (see the module docstring); the
    row then also says which thread counts (and npcnn batch parts) those were.
    """
    import statistics

    med = statistics.median
    rows = []
    for t in threads:
        blas = 1 if t else None  # defaults: no thread variables in the environment
        name = t or "default"
        for C in channels:
            log(f"  npcnn   C={C:<3d} threads={name} ...")
            ours = run_job("npcnn", blas, channels=C, epochs=epochs, threads=t,
                           dataset=dataset)
            row = {"channels": C, "threads": t, "npcnn_epoch_s": med(ours["epoch_s"]),
                   "npcnn_eval_s": med(ours["eval10k_s"]),
                   "npcnn_rss_mib": ours["max_rss_mib"], "npcnn_acc": ours["test_acc"],
                   "npcnn_threads": ours["threads"], "npcnn_chunks": ours["chunks"],
                   "npcnn_processes": ours.get("processes", False)}
            if use_torch:
                log(f"  pytorch C={C:<3d} threads={name} ...")
                ref = run_job("torch", blas, channels=C, epochs=epochs, threads=t,
                              dataset=dataset)
                row.update(torch_epoch_s=med(ref["epoch_s"]), torch_eval_s=med(ref["eval10k_s"]),
                           torch_acc=ref["test_acc"], torch_rss_mib=ref["max_rss_mib"],
                           torch_threads=ref["threads"])
                row["epoch_ratio"] = row["npcnn_epoch_s"] / row["torch_epoch_s"]
                row["eval_ratio"] = row["npcnn_eval_s"] / row["torch_eval_s"]
            rows.append(row)
    return rows


def layer_table(channels: int = 4, batch: int = 100, naive_batch: int = 4,
                threads: int = 1, dataset: str = "mnist") -> list[dict]:
    return run_job("layers", channels=channels, batch=batch, naive_batch=naive_batch,
                   threads=threads, dataset=dataset)["rows"]


def roofline_table(channels=ROOFLINE_CHANNELS, threads=(1, 2), use_torch=True,
                   batch: int = 100, log=print, dataset: str = "mnist") -> dict:
    """One training step of ``batch`` images per channel count and thread count, npcnn
    and (``use_torch``) PyTorch, against the roofline (``npcnn.roofline``): this
    machine's limits, then each step, each in its own child process.

    Returns ``{"limits": roofline.machine_limits(...), "rows": roofline.rows(...)}``.
    """
    log("  sgemm peak, copy bandwidth and each GEMM of the steps ...")
    limits = run_job("limits", blas_threads=max(threads), channels=list(channels),
                     batch=batch, threads=list(threads), dataset=dataset)
    steps = []
    for C in channels:
        for t in threads:
            log(f"  one step, C={C:<3d} threads={t} ...")
            job = {"channels": C, "threads": t, "batch": batch, "dataset": dataset}
            ours = run_job("step", library="npcnn", **job)
            step = {"channels": C, "threads": t, "npcnn_ms": ours["ms"],
                    "npcnn_threads": ours["threads"], "npcnn_processes": ours["processes"]}
            if use_torch:
                step["torch_ms"] = run_job("step", library="torch", **job)["ms"]
            steps.append(step)
    work = {C: geometry(roofline.config(C, dataset=dataset)) for C in channels}
    return {"limits": limits, "rows": roofline.rows(work, limits, steps, batch)}


def format_epoch_table(rows: list[dict]) -> str:
    head = "| C | threads | npcnn s/epoch | PyTorch s/epoch | ratio | npcnn eval 10k s | " \
           "PyTorch eval 10k s | ratio | npcnn peak RSS MiB |"
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        def g(key, fmt="{:.2f}", r=r):
            return fmt.format(r[key]) if key in r else "n/a"
        lines.append(f"| {r['channels']} | {r['threads']} | {g('npcnn_epoch_s')} | "
                     f"{g('torch_epoch_s')} | {g('epoch_ratio', '{:.2f}x')} | "
                     f"{g('npcnn_eval_s', '{:.3f}')} | {g('torch_eval_s', '{:.3f}')} | "
                     f"{g('eval_ratio', '{:.2f}x')} | {g('npcnn_rss_mib', '{:.0f}')} |")
    return "\n".join(lines)


def format_defaults_table(rows: list[dict]) -> str:
    """The epoch table at both libraries' defaults (rows of ``epoch_table(threads=(0,))``):
    which threads each used, s/epoch, ratio, 10k evaluation and peak memory of both."""
    head = ("| C | npcnn cores (auto) | PyTorch threads (default) | npcnn s/epoch | "
            "PyTorch s/epoch | ratio | npcnn eval 10k s | PyTorch eval 10k s | ratio | "
            "npcnn peak RSS MiB | PyTorch peak RSS MiB |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        def g(key, fmt="{:.2f}", r=r):
            return fmt.format(r[key]) if key in r else "n/a"
        ours = (f"{r['npcnn_threads']}{' processes' if r.get('npcnn_processes') else ''} "
                f"({r['npcnn_chunks']} batch part{'s' if r['npcnn_chunks'] > 1 else ''})")
        lines.append(f"| {r['channels']} | {ours} | {g('torch_threads', '{}')} | "
                     f"{g('npcnn_epoch_s')} | {g('torch_epoch_s')} | "
                     f"{g('epoch_ratio', '{:.2f}x')} | "
                     f"{g('npcnn_eval_s', '{:.3f}')} | {g('torch_eval_s', '{:.3f}')} | "
                     f"{g('eval_ratio', '{:.2f}x')} | {g('npcnn_rss_mib', '{:.0f}')} | "
                     f"{g('torch_rss_mib', '{:.0f}')} |")
    return "\n".join(lines)


def format_layer_table(rows: list[dict]) -> str:
    lines = ["| layer | naive fwd | fast fwd | PyTorch fwd | naive bwd | fast bwd | "
             "PyTorch bwd | naive/fast |", "|" + "---|" * 8]
    for r in rows:
        def g(key, r=r):
            return f"{r[key]:.3f}" if key in r else "n/a"
        speedup = (r["naive_fwd"] + r["naive_bwd"]) / max(1e-9, r["fast_fwd"] + r["fast_bwd"])
        lines.append(f"| {r['layer']} | {g('naive_fwd')} | {g('fast_fwd')} | {g('torch_fwd')} "
                     f"| {g('naive_bwd')} | {g('fast_bwd')} | {g('torch_bwd')} | "
                     f"{speedup:.0f}x |")
    return "\n".join(lines)


def print_roofline(result: dict) -> None:
    """The roofline table of ``roofline_table``'s result, with the limits it is read against."""
    print(f"\none training step of batch {result['rows'][0]['batch']} images of real MNIST "
          f"against this machine's roofline (median of 30 steps; FLOPs of the step's GEMMs, "
          "bytes of a layer-at-a-time step: npcnn.roofline)")
    print(roofline.format_limits(result["limits"]))
    print(roofline.format_table(result["rows"]))
    print("\neach GEMM of the step alone on one thread, called as npcnn calls it (dW: npcnn.thin):")
    print(roofline.format_gemms(result["limits"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="npcnn bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--epochs", type=int, default=3, help="epochs per measurement (median)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                    help="thread counts, the same for both frameworks")
    ap.add_argument("--defaults", action="store_true",
                    help="instead of --threads: each library at its default thread count "
                         "(npcnn threads=0, auto; PyTorch torch.get_num_threads()); "
                         "skips the per-layer table")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    ap.add_argument("--layers-only", action="store_true")
    ap.add_argument("--roofline-only", action="store_true",
                    help="only the roofline table: one training step per channel count "
                         f"({', '.join(map(str, ROOFLINE_CHANNELS))} and --channels) "
                         "against this machine's sgemm peak and copy bandwidth")
    ap.add_argument("--json", help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    use_torch = torch_available() and not args.no_torch
    print(f"machine: {machine()}")
    if not use_torch:
        print("PyTorch not installed (pip install -e '.[bench]'): npcnn columns only")
    result: dict = {"machine": machine()}
    if not args.layers_only:
        try:  # before the minutes of the layer table, not after them in a child process
            check()
        except DataError as err:
            print(f"npcnn: error: {one_line(err)}", file=sys.stderr)
            return 2
    if not (args.defaults or args.roofline_only):
        print("\nper-layer ms for a batch of 100 (C=4; naive loops timed on 4 images, scaled):")
        result["layers"] = layer_table(channels=4, threads=1)
        print(format_layer_table(result["layers"]))
    if not (args.defaults or args.layers_only):
        channels = sorted({*ROOFLINE_CHANNELS, *args.channels})
        result["roofline"] = roofline_table(channels, use_torch=use_torch,
                                            log=lambda m: print(m, file=sys.stderr))
        print_roofline(result["roofline"])
    if args.defaults:
        print(f"\nseconds per epoch at both libraries' defaults on {cpu()} "
              f"({os.cpu_count()} cores; median of {args.epochs}; {epoch_words()}), "
              "and evaluation of the test images:")
        rows = epoch_table(args.channels, args.epochs, (0,), use_torch,
                           log=lambda m: print(m, file=sys.stderr))
        print(format_defaults_table(rows))
        result["defaults"] = rows
    elif not (args.layers_only or args.roofline_only):
        print(f"\nseconds per epoch (median of {args.epochs}; {epoch_words()}), "
              "and evaluation of the test images:")
        rows = epoch_table(args.channels, args.epochs, args.threads, use_torch,
                           log=lambda m: print(m, file=sys.stderr))
        print(format_epoch_table(rows))
        result["epochs"] = rows
    if args.defaults or not (args.layers_only or args.roofline_only):
        from npcnn.claims.original import ORIGINAL

        print(f"\nthe original's network needed about {ORIGINAL['seconds_per_epoch']:.0f} s "
              f"per epoch ({ORIGINAL['default_hours']:g} h / 100 epochs, "
              f"{ORIGINAL['machine']}).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
