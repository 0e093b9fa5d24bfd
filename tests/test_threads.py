"""Threads: the batch split is a property of the network, the thread count of the
machine; BLAS is limited at the entry points, not on import."""

from __future__ import annotations

import subprocess
import sys

from npcnn import threads
from npcnn.config import TrainConfig
from npcnn.models import batch_chunks


def test_the_split_follows_the_network_and_threads_follow_the_cores():
    small, big = TrainConfig(), TrainConfig(channels=16)
    assert batch_chunks(small) == 1 and batch_chunks(big) == 2
    assert threads.auto_threads(small, available=2) == 1
    assert threads.auto_threads(big, available=2) == 2
    assert threads.auto_threads(big, available=1) == 1
    assert threads.resolve(big.replace(threads=8)) == 2  # no more than its parts
    assert threads.resolve(big.replace(threads=1)) == 1


def test_importing_npcnn_sets_no_blas_threads():
    code = ("import os, npcnn, npcnn.trainer; "
            "assert not any(v in os.environ for v in npcnn.threads.BLAS_VARS)")
    env = {k: v for k, v in __import__("os").environ.items() if k not in threads.BLAS_VARS}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_blas_limit_sets_and_restores():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    with threadpool_limits(2, user_api="blas"):  # a BLAS with two threads, as by default
        before = blas()
        assert before and all(n == 2 for n in before)
        with threads.blas_limit(1):
            assert all(n == 1 for n in blas())
        assert blas() == before
