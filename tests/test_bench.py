"""The benchmark runs and reports every layer (a smoke test: no time is asserted)."""

from __future__ import annotations

from npcnn import bench


def test_layer_table_runs_in_a_child_process():
    rows = bench.layer_table(channels=2, batch=8, naive_batch=2)
    assert [r["layer"].split("(")[0] for r in rows] == [
        "Conv2D", "ReLU", "AvgPool2D", "Conv2D", "ReLU", "AvgPool2D", "Flatten", "Linear"]
    for r in rows:
        assert all(r[key] > 0 for key in ("fast_fwd", "fast_bwd", "naive_fwd", "naive_bwd"))
    table = bench.format_layer_table(rows)
    assert table.count("\n") == len(rows) + 1 and "Conv2D(1, 2" in table


def test_epoch_table_formats_missing_torch_columns():
    row = {"channels": 4, "threads": 1, "npcnn_epoch_s": 1.5, "npcnn_eval_s": 0.1,
           "npcnn_rss_mib": 300.0, "npcnn_acc": 0.95}
    text = bench.format_epoch_table([row])
    assert "| 4 | 1 | 1.50 | n/a |" in text
