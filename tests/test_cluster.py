"""The Dask backend on a ``LocalCluster`` of two one-thread worker processes: the same
histories as local workers, a worker killed mid-run resumes from the checkpoint it
published, a run that keeps failing is reported while the others complete.

Tiny runs on the synthetic ``tiny_mnist`` (300 training images; 5,000 validation and
200 test images evaluated each epoch, about 0.3 s an epoch).
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from npcnn import cluster, runs, sweep  # noqa: E402
from npcnn.config import TrainConfig  # noqa: E402
from npcnn.lock import run_lock  # noqa: E402


def strip(epochs):
    """Per-epoch records without the wall time, the one field runs may differ in."""
    return [{k: v for k, v in e.items() if k != "seconds"} for e in epochs]


def starts(log, key):
    """(first epoch, pid) of every training start of ``key`` in ``$NPCNN_TRAIN_LOG``."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [(int(e), int(p)) for k, e, p in (ln.split() for ln in lines) if k == key]


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory):
    """Two worker processes of one thread each; every training start is logged."""
    log = tmp_path_factory.mktemp("cluster") / "starts.log"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  env={"NPCNN_TRAIN_LOG": str(log), "TQDM_DISABLE": "1"},
                                  ) as c:
        yield c.scheduler_address, log


@pytest.fixture
def base(tiny_mnist) -> TrainConfig:
    return TrainConfig(epochs=2, subset=300, data_dir=str(tiny_mnist))


def test_cluster_sweep_equals_local_sweep(local_cluster, base, tmp_path):
    address, _ = local_cluster
    points = sweep.plan(base, "lr", [0.01, 0.02])
    seen = []
    on_cluster = sweep.run(points, runs_dir=str(tmp_path / "cluster"), scheduler=address,
                           progress=seen.append, poll=0.2)
    local = sweep.run(points, jobs=2, runs_dir=str(tmp_path / "local"))
    assert [r.status for r in on_cluster] == [r.status for r in local]
    for a, b in zip(on_cluster, local, strict=True):
        assert len(a.epochs) == 2
        assert strip(a.epochs) == strip(b.epochs)  # exact: same code, same seed
        assert a.history["iter_loss"] == b.history["iter_loss"]
        w1 = runs.load_model(a.config, tmp_path / "cluster").params
        w2 = runs.load_model(b.config, tmp_path / "local").params
        assert all((x == y).all() for x, y in zip(w1, w2, strict=True))
    assert seen[-1].runs_done == seen[-1].runs_total == 2 and not seen[-1].failed
    assert {p.finished for p in seen} >= {"lr=0.01", "lr=0.02"}  # each shown as it ended
    # The store is the submitting machine's: nothing left to train, no lock held.
    assert runs.to_train([p.config for p in points], tmp_path / "cluster") == []
    assert all(run_lock(runs.run_dir(p.config, tmp_path / "cluster")).acquire(False)
               for p in points)


def test_a_killed_worker_is_retried_from_the_published_checkpoint(local_cluster, base,
                                                                   tmp_path):
    address, log = local_cluster
    cfg = base.replace(epochs=5, seed=7)
    marker = tmp_path / "killed"
    with distributed.Client(address, set_as_default=False) as client:
        # The first worker process to publish a checkpoint of >= 1 epoch exits on the
        # spot (os._exit); the worker the nanny restarts has no such instruction.
        client.run(lambda: os.environ.update({cluster.FAULT_ENV: f"1:{marker}"}))
        try:
            (r,) = sweep.run(sweep.plan(cfg), runs_dir=str(tmp_path), scheduler=address)
        finally:
            client.run(lambda: os.environ.pop(cluster.FAULT_ENV, None))
    assert marker.exists()
    assert r.status in ("completed", "collapsed") and len(r.epochs) == 5
    (first, pid1), (resumed, pid2) = starts(log, cfg.key())
    # Started from scratch, then, in another process, from the published checkpoint.
    assert first == 0 and 1 <= resumed < 5 and pid1 != pid2
    # The same run uninterrupted (on the cluster too: one BLAS thread, warm workers; the
    # first test shows the cluster equals local workers).
    (reference,) = sweep.run(sweep.plan(cfg), runs_dir=str(tmp_path / "ref"),
                             scheduler=address)
    assert strip(r.epochs) == strip(reference.epochs)
    assert r.history["iter_loss"] == reference.history["iter_loss"]


def test_a_run_that_keeps_failing_is_reported_and_the_others_complete(local_cluster, base,
                                                                      tmp_path):
    address, _ = local_cluster
    empty = tmp_path / "empty"  # exists on the workers, holds no MNIST: DataError
    empty.mkdir()
    points = sweep.plan(base, extra=[{"label": "no data", "data_dir": str(empty),
                                      "seed": 1}])
    seen = []
    ok, bad = sweep.run(points, runs_dir=str(tmp_path / "runs"), scheduler=address,
                        progress=seen.append, poll=0.2)
    assert ok.status in ("completed", "collapsed") and len(ok.epochs) == 2
    assert bad.status == "failed"
    assert "DataError" in bad.error and "is empty" in bad.error
    assert f"after {cluster.RETRIES + 1} attempts" in bad.error
    assert "\n" not in bad.error
    assert seen[-1].failed == ["no data"] and seen[-1].runs_done == 2


def test_an_unreachable_scheduler_is_one_clear_error(base, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    with pytest.raises(cluster.ClusterError, match="could not reach the Dask scheduler") as e:
        sweep.run(sweep.plan(base), runs_dir=str(tmp_path), scheduler="tcp://127.0.0.1:9")
    assert "\n" not in str(e.value) and str(e.value).endswith("unset NPCNN_SCHEDULER.")


def test_the_report_passes_the_scheduler_to_the_training_notebooks(tmp_path):
    from npcnn import report
    from npcnn.report import ROOT, STUDIES, parameters_cell

    for s in STUDIES:
        p = report.params_of(s, quick=True, runs_dir=tmp_path, jobs=2,
                             scheduler="tcp://10.0.0.5:8786")
        assert p.get("scheduler") == ("tcp://10.0.0.5:8786" if s.trains else None)
        if s.trains:  # the notebook declares it, so papermill's value is accepted
            assert "\nscheduler: str = " in parameters_cell(ROOT / "notebooks" / s.notebook)
    assert "scheduler" not in report.params_of(STUDIES[0], False, tmp_path, 2)
