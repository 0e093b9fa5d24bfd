"""BLAS threads: limited at the entry points, not on import (the batch split's threads:
test_batch_split)."""

from __future__ import annotations

import subprocess
import sys

from npcnn import threads


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
