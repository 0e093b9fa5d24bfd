"""The roofline: a step's FLOPs and bytes against hand counts, the table's structure, and
``npcnn bench --roofline-only`` without PyTorch (no time is asserted)."""

from __future__ import annotations

import json
import sys

import pytest

from npcnn import bench, roofline
from npcnn.config import TrainConfig
from npcnn.models import geometry, mlp


def test_flops_of_a_step_match_a_hand_count():
    """C=4, k=3 on MNIST, batch 100. By hand, 2 * F * (C*k*k) * (N*H'*W'): conv1
    (1 -> 4, 28x28) forward and dW 2*4*9*78,400 = 5,644,800 each, no dx (first layer);
    conv2 (4 -> 4, 14x14): 2*4*36*19,600 = 5,644,800 for forward, dW and dx; the Linear
    (196 -> 10): 2*100*196*10 = 392,000 for forward, dW and dx. Fails if the first
    layer's input gradient is counted (+5,644,800) or a product is dropped."""
    geo = geometry(TrainConfig(channels=4))
    by_layer = {}
    for g in roofline.gemms(geo, 100):
        by_layer.setdefault(g.layer, []).append((g.product, g.flops))
    assert by_layer == {
        0: [("forward", 5_644_800), ("dW", 5_644_800)],
        3: [("forward", 5_644_800), ("dW", 5_644_800), ("dx", 5_644_800)],
        7: [("forward", 392_000), ("dW", 392_000), ("dx", 392_000)],
    }
    assert roofline.step_flops(geo, 100) == 5 * 5_644_800 + 3 * 392_000
    # k=5 at C=8: conv1's forward is 2 * 8 * 25 * 78,400, its K read off the geometry.
    g0 = roofline.gemms(geometry(TrainConfig(channels=8, kernel_size=5)), 100)[0]
    assert (g0.M, g0.K, g0.N, g0.flops) == (8, 25, 78_400, 2 * 8 * 25 * 78_400)


def test_bytes_of_a_step_match_a_hand_count():
    """Flatten -> Linear(784, 10), batch 10. Per image, forward: Flatten reads 784 and
    writes 784, the Linear reads 784 and writes 10; backward from the Linear (the first
    layer with weights): reads dout 10 and its input 784, writes no dx. Parameters
    7,850: read twice, gradients written once, SGD 3 reads + 2 writes. Fails if dx of
    the first weighted layer or the optimizer's traffic is (un)counted."""
    geo = mlp(hidden=()).geometry((1, 28, 28))
    per_image = (784 + 784) + (784 + 10) + (10 + 784)
    assert roofline.step_bytes(geo, 10) == 4 * (10 * per_image + 8 * 7_850)


LIMITS = {"sgemm_gflops": {"1": 100.0, "2": 180.0}, "sgemm_n": 1536, "copy_gbs": 20.0,
          "copy_mib": 256, "gemms": [
              {"channels": 4, "name": "Conv2D(1, 4)", "product": "dW", "M": 4, "K": 78400,
               "N": 9, "layout": "NT", "flops": 5_644_800, "gflops": 25.0}]}


def test_rows_take_the_larger_limit_and_the_table_has_one_line_per_step():
    geo = geometry(TrainConfig(channels=4))
    steps = [{"channels": 4, "threads": 1, "npcnn_ms": 3.0, "npcnn_threads": 1,
              "torch_ms": 6.0},
             {"channels": 4, "threads": 2, "npcnn_ms": 2.9, "npcnn_threads": 1},
             {"channels": 4, "threads": 2, "npcnn_ms": 2.0, "npcnn_threads": 2,
              "npcnn_processes": True}]
    rows = roofline.rows({4: geo}, LIMITS, steps, 100)
    flops, nbytes = roofline.step_flops(geo, 100), roofline.step_bytes(geo, 100)
    for r, peak in zip(rows, (100.0, 180.0, 180.0), strict=True):
        assert r["compute_ms"] == pytest.approx(flops / peak / 1e6)
        assert r["memory_ms"] == pytest.approx(nbytes / 20.0 / 1e6)
        assert r["roofline_ms"] == max(r["compute_ms"], r["memory_ms"])
        assert r["npcnn_x"] == pytest.approx(r["npcnn_ms"] / r["roofline_ms"])
    assert rows[0]["torch_x"] == pytest.approx(6.0 / rows[0]["roofline_ms"])
    lines = roofline.format_table(rows).splitlines()
    assert len(lines) == 2 + len(steps) and lines[0].count("|") == 12
    assert lines[2].startswith("| 4 | 1 | 0.029 |") and lines[2].endswith("x |")
    assert lines[3].startswith("| 4 | 2 (1 used) |") and "| not installed | — |" in lines[3]
    assert lines[4].startswith("| 4 | 2 (npcnn: processes) |")
    assert "100 GFLOP/s on 1 thread, 180 GFLOP/s on 2 threads" in roofline.format_limits(LIMITS)
    assert "BLAS kernel not OpenBLAS (thin dW products as one call" in \
        roofline.format_limits(LIMITS)
    assert "BLAS kernel SkylakeX (thin dW products in pieces" in roofline.format_limits(
        {**LIMITS, "blas_kernel": "SkylakeX", "thin_pieces": True})
    assert "| 4 | Conv2D(1, 4) | dW | 4 x 78400 x 9 | NT | 5.64 | 25 | 25% |" in \
        roofline.format_gemms(LIMITS)


def test_bench_prints_the_roofline_without_torch(mnist_dir, monkeypatch, tmp_path, capsys):
    """PyTorch made unimportable here and in every child (a sitecustomize that puts None
    in sys.modules): the command still prints the whole table, PyTorch's cells saying so."""
    (tmp_path / "sitecustomize.py").write_text('import sys\nsys.modules["torch"] = None\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(bench, "ROOFLINE_CHANNELS", ())  # only --channels: one network
    out = tmp_path / "bench.json"
    assert bench.main(["--roofline-only", "--channels", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "PyTorch not installed" in text and "sgemm peak" in text
    table = [line for line in text.splitlines() if line.startswith(("| 2 | 1 |", "| 2 | 2 "))]
    assert len(table) == 2 and all("| not installed | — |" in line for line in table)
    result = json.loads(out.read_text())["roofline"]
    assert [r["threads"] for r in result["rows"]] == [1, 2]
    assert all(r["npcnn_ms"] > 0 and "torch_ms" not in r for r in result["rows"])
    assert {g["channels"] for g in result["limits"]["gemms"]} == {2}
