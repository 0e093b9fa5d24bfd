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


def test_defaults_table_names_each_librarys_threads():
    row = {"channels": 16, "threads": 0, "npcnn_epoch_s": 2.5, "npcnn_eval_s": 0.2,
           "npcnn_rss_mib": 250.0, "npcnn_acc": 0.97, "npcnn_threads": 2, "npcnn_chunks": 2,
           "torch_epoch_s": 3.5, "torch_eval_s": 0.6, "torch_rss_mib": 400.0,
           "torch_threads": 2, "torch_acc": 0.97, "epoch_ratio": 2.5 / 3.5, "eval_ratio": 1 / 3}
    text = bench.format_defaults_table([row, {k: v for k, v in row.items()
                                              if not k.startswith(("torch", "epoch_r", "eval_r"))}
                                       | {"channels": 4, "npcnn_chunks": 1}])
    assert ("| 16 | 2 (2 batch parts) | 2 | 2.50 | 3.50 | 0.71x | 0.200 | 0.600 | 0.33x | "
            "250 | 400 |") in text
    assert "| 4 | 2 (1 batch part) | n/a | 2.50 | n/a | n/a |" in text


def test_epoch_table_at_defaults_runs_children_without_thread_variables(monkeypatch):
    """--defaults: thread count 0 for both libraries and no BLAS/OpenMP variables in the
    children's environment (each library picks its own)."""
    calls = []

    def fake_run(cmd, env, capture_output, text):
        import json
        import types

        job = json.loads(cmd[-1])
        calls.append((job, {v: env.get(v) for v in bench.BLAS_VARS}))
        out = {"epoch_s": [1.0, 2.0, 3.0], "eval10k_s": [0.1], "test_acc": 0.9,
               "threads": 2, "chunks": 1, "max_rss_mib": 100.0}
        return types.SimpleNamespace(returncode=0, stdout=json.dumps(out), stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    rows = bench.epoch_table(channels=(4,), epochs=3, threads=(0,), use_torch=True,
                             log=lambda m: None)
    assert [(job["kind"], job["threads"]) for job, _ in calls] == [("npcnn", 0), ("torch", 0)]
    assert all(v is None for _, env in calls for v in env.values())
    assert rows[0]["epoch_ratio"] == 1.0 and rows[0]["npcnn_threads"] == 2
    calls.clear()
    bench.epoch_table(channels=(4,), epochs=3, threads=(2,), use_torch=False, log=lambda m: None)
    assert calls[0][0]["threads"] == 2 and set(calls[0][1].values()) == {"1"}
