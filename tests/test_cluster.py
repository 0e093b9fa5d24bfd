"""The Dask backend on a ``LocalCluster`` of two one-thread worker processes: the same
histories as local workers, seeds fanned out as tasks, a worker killed mid-run (by the
test, with SIGKILL) resumes from the checkpoint it published, a run that keeps failing
is reported while the others complete.

Tiny runs on the synthetic ``tiny_mnist`` (300 training images; 5,000 validation and
200 test images evaluated each epoch, about 0.1 s an epoch).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from conftest import TINY, strip  # noqa: E402

from npcnn import store, sweep  # noqa: E402
from npcnn.checkpoint import load_checkpoint  # noqa: E402
from npcnn.config import TrainConfig  # noqa: E402
from npcnn.sweep import cluster  # noqa: E402


@pytest.fixture(scope="module")
def local_cluster():
    """Two worker processes of one thread each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, env={"TQDM_DISABLE": "1"}) as c:
        yield c.scheduler_address


@pytest.fixture
def base(tiny_mnist) -> TrainConfig:
    return TrainConfig(epochs=2, subset=300, dataset=TINY, data_dir=str(tiny_mnist))


def test_cluster_sweep_equals_local_sweep(local_cluster, base, tmp_path):
    """Every point x seed is its own task; the histories equal local workers' exactly."""
    address = local_cluster
    points = sweep.plan(base, "lr", [0.01, 0.02])
    seen = []
    on_cluster = sweep.run(points, seeds=[0, 1], runs_dir=str(tmp_path / "cluster"),
                           scheduler=address, progress=seen.append, poll=0.2)
    local = sweep.run(points, seeds=[0, 1], jobs=2, runs_dir=str(tmp_path / "local"))
    pairs = [(a, b) for pa, pb in zip(on_cluster, local, strict=True)
             for a, b in zip(pa.runs, pb.runs, strict=True)]
    assert len(pairs) == 4 and [a.seed for a, _ in pairs] == [0, 1, 0, 1]
    for a, b in pairs:
        assert a.status == b.status and len(a.epochs) == 2
        assert strip(a.epochs) == strip(b.epochs)  # exact: same code, same seed
        assert a.history["iter_loss"] == b.history["iter_loss"]
        w1 = store.load_model(a.config, tmp_path / "cluster").params
        w2 = store.load_model(b.config, tmp_path / "local").params
        assert (w1 == w2).all()
    assert pairs[0][0].history["iter_loss"] != pairs[1][0].history["iter_loss"]  # seeds
    assert seen[-1].runs_done == seen[-1].runs_total == 4 and not seen[-1].failed
    assert {p.finished for p in seen} >= {"lr=0.01, seed 0", "lr=0.02, seed 1"}
    # The store is the submitting machine's: nothing left to train, no lock held.
    configs = [p.config.replace(seed=s) for p in points for s in (0, 1)]
    assert store.to_train(configs, tmp_path / "cluster") == []
    for c in configs:
        lock = store.run_lock(c, tmp_path / "cluster")
        lock.acquire(timeout=0)  # raises Timeout if a lock were still held
        lock.release()


def test_a_killed_worker_is_retried_from_the_published_checkpoint(local_cluster, base,
                                                                   tmp_path):
    """The test SIGKILLs the worker process that trains the run, once the local store
    holds a checkpoint it published; the run resumes from that checkpoint elsewhere."""
    address = local_cluster
    cfg = base.replace(epochs=40, seed=7)  # long enough to be killed midway
    out: list = []
    sweeping = threading.Thread(target=lambda: out.extend(
        sweep.run(sweep.plan(cfg), runs_dir=str(tmp_path), scheduler=address, poll=0.2)))
    sweeping.start()
    with distributed.Client(address, set_as_default=False) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _epochs(cfg, tmp_path):
            time.sleep(0.05)
        at_kill = load_checkpoint(store.run_dir(cfg, tmp_path)).epochs
        busy = [w for w, keys in client.processing().items() if keys]
        pids = client.run(os.getpid, workers=busy)
        (pid,) = pids.values()
        os.kill(pid, signal.SIGKILL)  # no cleanup, no reply: as a crashed machine
    sweeping.join(timeout=300)
    (point,) = out
    (r,) = point.runs
    assert 1 <= len(at_kill) < 40, "the run finished before it could be killed"
    assert r.status in ("completed", "collapsed") and len(r.epochs) == 40
    # Resumed, not restarted: the epochs published before the kill are kept as recorded
    # (their wall times too, which a retraining would not reproduce).
    assert r.epochs[:len(at_kill)] == at_kill
    # The same run uninterrupted (on the cluster too: one BLAS thread, warm workers; the
    # first test shows the cluster equals local workers).
    (reference,) = sweep.run(sweep.plan(cfg), runs_dir=str(tmp_path / "ref"),
                             scheduler=address)
    assert strip(r.epochs) == strip(reference.runs[0].epochs)
    assert r.history["iter_loss"] == reference.runs[0].history["iter_loss"]


def _epochs(cfg, root) -> int:
    try:
        return len(load_checkpoint(store.run_dir(cfg, root)).epochs)
    except (OSError, ValueError):
        return 0


def test_a_run_that_keeps_failing_is_reported_and_the_others_complete(local_cluster, base,
                                                                      tmp_path):
    """A worker checks its data as a local run does: an empty directory, or one holding
    another dataset's files, fails (after the retries) in one line."""
    address = local_cluster
    empty = tmp_path / "empty"  # exists on the workers, holds nothing: DataError
    empty.mkdir()
    extra = [{"label": "no data", "data_dir": str(empty), "seed": 1}]
    mnist = os.environ.get("NPCNN_DATA", "")
    if mnist:  # the real MNIST where the synthetic set should be: refused by its hashes
        extra.append({"label": "MNIST's files", "data_dir": mnist, "seed": 2})
    seen = []
    ok, *bad = (p.runs[0] for p in sweep.run(sweep.plan(base, extra=extra),
                                             runs_dir=str(tmp_path / "runs"),
                                             scheduler=address, progress=seen.append,
                                             poll=0.2))
    assert ok.status in ("completed", "collapsed") and len(ok.epochs) == 2
    assert all(b.status == "failed" and "DataError" in b.error and "\n" not in b.error
               and f"after {cluster.RETRIES + 1} attempts" in b.error for b in bad)
    assert "is empty" in bad[0].error
    if mnist:
        assert "holds MNIST" in bad[1].error and "not the tiny set" in bad[1].error
    assert sorted(seen[-1].failed) == sorted(e["label"] for e in extra)
    assert seen[-1].runs_done == 1 + len(extra)


def test_an_unreachable_scheduler_is_one_clear_error(base, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    with pytest.raises(cluster.ClusterError, match="could not reach the Dask scheduler") as e:
        sweep.run(sweep.plan(base), runs_dir=str(tmp_path), scheduler="tcp://127.0.0.1:9")
    assert "\n" not in str(e.value) and str(e.value).endswith("unset NPCNN_SCHEDULER.")


def test_the_report_passes_the_scheduler_to_the_training_notebooks(tmp_path):
    from npcnn.report.studies import declared, params_of, studies

    for s in studies():
        p = params_of(s, quick=True, seeds=1, runs_dir=tmp_path, jobs=2,
                      scheduler="tcp://10.0.0.5:8786")
        assert p.get("scheduler") == ("tcp://10.0.0.5:8786" if s.trains else None)
        if s.trains:  # the notebook declares it, so papermill's value is accepted
            assert "scheduler" in declared(s.notebook)
    assert "scheduler" not in params_of(studies()[0], False, 1, tmp_path, 2)
