"""Thin products in pieces (npcnn.thin): the same product as one call, and used only on
the BLAS kernels that have a path for them."""

import numpy as np
import pytest

from npcnn import thin
from npcnn.models import cnn

# The first stage's and the second conv's dW at batch 100 on MNIST, F = 4, 16, 32:
# (F, P) @ (P, C*k*k + 1), P the output positions of a block of images.
SHAPES = [(4, 78_400, 10), (16, 78_400, 10), (32, 78_400, 10), (37, 19_600, 4)]


def test_pieces_only_with_the_small_kernel():
    assert thin.pieces(4, 78_400, 10, small=False) == 1
    # 3.136e6 multiply-adds in pieces of at most 1e6: 4.
    assert thin.pieces(4, 78_400, 10, small=True) == 4
    assert thin.pieces(4, 1000, 10, small=True) == 1
    assert thin.pieces(1000, 3, 1000, small=True) == 3  # never more pieces than K
    assert all(m * -(-k // thin.pieces(m, k, n, True)) * n <= thin.BLOCK_MACS
               for m, k, n in SHAPES)


@pytest.mark.parametrize("arch, small", [("SkylakeX", True), ("Cooperlake", True),
                                         ("SapphireRapids", True), ("Haswell", False),
                                         ("Zen", False), ("Prescott", False), (None, False)])
def test_kernels_with_the_small_path(arch, small):
    assert thin.has_small_kernel(arch) is small


def test_the_gate_reads_numpys_blas():
    # Whatever this machine has: a kernel's name (or None), read once, and the gate from it.
    assert thin.kernel() is None or isinstance(thin.kernel(), str)
    assert thin.kernel.cache_info().currsize == 1
    assert thin.small_kernel() is thin.has_small_kernel(thin.kernel())


@pytest.mark.parametrize("m, k, n", SHAPES)
@pytest.mark.parametrize("add", [False, True])
def test_pieces_sum_exactly_to_the_product(m, k, n, add):
    # Small integers in float32: every partial sum (< 78,400 * 9 * 2 < 2^24) is exact,
    # so the pieces must give the one call's product bit for bit; a piece left out, summed
    # twice or overwritten shows.
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, (m, k)).astype(np.float32)
    b = rng.integers(-3, 4, (n, k)).astype(np.float32).T  # transposed, as dz @ cols^T
    start = rng.integers(-3, 4, (m, n)).astype(np.float32)
    want = (start if add else 0) + a @ b
    out, tmp = start.copy(), np.empty((m, n), np.float32)
    thin.matmul(a, b, out, tmp, add=add, small=True)
    assert thin.pieces(m, k, n, True) > 1
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("m, k, n", SHAPES)
def test_pieces_round_like_one_call(m, k, n):
    # Real values: summed in another order, float32 products of K ~ 8e4 terms may differ
    # by a few ulps of the terms' magnitude sum; 1e-6 of |a| @ |b| (8 ulps at float32)
    # bounds both against float64, with room for an order-of-sum difference only.
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k), dtype=np.float32).T
    exact = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    out, tmp = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
    for small in (False, True):
        thin.matmul(a, b, out, tmp, small=small)
        assert np.max(np.abs(out - exact) / scale) < 1e-6


@pytest.mark.parametrize("channels", [4, 16])
def test_a_step_in_pieces_gives_the_same_gradients(monkeypatch, channels):
    # The whole backward with every thin product in pieces, as on an AVX-512 OpenBLAS:
    # the same gradients within float32 rounding of sums in another order (1e-5 of the
    # largest gradient), and not bit for bit the same (the pieces were used).
    rng = np.random.default_rng(2)
    x = rng.random((100, 1, 28, 28), dtype=np.float32)
    d = rng.standard_normal((100, 10)).astype(np.float32) / 100
    grads = {}
    for small in (False, True):
        monkeypatch.setattr(thin, "small_kernel", lambda small=small: small)
        net = cnn(channels=channels, seed=3)
        net.forward(x)
        net.backward(d)
        grads[small] = net.grads.copy()
    np.testing.assert_allclose(grads[True], grads[False], rtol=0,
                               atol=1e-5 * np.abs(grads[False]).max())
    assert not np.array_equal(grads[True], grads[False])
