"""The readable convolution (``npcnn.layers.readable``) between its neighbours: the loop
reference it must equal and the fast ``Conv2D`` that must equal it, and its gradients
against centered differences.

Tolerances (float64 unless said):
- numerical gradients: centered differences at h = 1e-6 agree with an exact gradient to
  ~1e-9 relative on O(1) values; we require rel_error < 1e-7. A wrong index, transpose or
  a lost sum in backward gives errors of order 0.1 to 1.
- the loop reference and the fast Conv2D: the same sums in another order, ~1e-15 relative;
  we require 1e-10.
- float32, readable against fast: rounding of sums of up to C*k*k <= 147 products, ~1e-6
  relative; we require 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_conv_cases

from npcnn import reference as ref
from npcnn.gradcheck import numerical_gradient, rel_error
from npcnn.layers import Conv2D, ReadableConv2D

GRAD_TOL = 1e-7
REF_TOL = 1e-10
F32_TOL = 1e-5


def _pair(seed, C, F, k, s, p, dtype=np.float64):
    """A ReadableConv2D and a Conv2D with the same weights (one rng seed draws both) and
    the same nonzero bias, so that the bias path is checked too."""
    readable, fast = (cls(C, F, k, stride=s, padding=p, init_std=1.0,
                          rng=np.random.default_rng(seed), dtype=dtype)
                      for cls in (ReadableConv2D, Conv2D))
    b = np.random.default_rng(seed + 1).normal(size=F)
    readable.params["b"][...] = b
    fast.params["b"][...] = b
    return readable, fast


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (3, 2, 1), (2, 2, 0), (5, 1, 2), (1, 1, 0),
                                   (3, 1, 3), (2, 3, 1), (4, 2, 0)])
def test_readable_conv_gradients_numerically(k, s, p):
    """Overlapping windows (s < k), tiling (s = k), gaps (s > k), padding beyond k - 1."""
    rng = np.random.default_rng(10 * k + s + p)
    conv, _ = _pair(k * 100 + s * 10 + p, 2, 3, k, s, p)
    x = rng.normal(size=(2, 2, 7, 6))
    dout = rng.normal(size=conv.forward(x).shape)
    dx = conv.backward(dout)
    assert rel_error(dx, numerical_gradient(conv.forward, x, dout)) < GRAD_TOL
    for name, param in conv.params.items():
        num = numerical_gradient(lambda _: conv.forward(x), param, dout)
        assert rel_error(conv.grads[name], num) < GRAD_TOL, name


@pytest.mark.parametrize("N,C,F,H,W,k,s,p", random_conv_cases(seed=2))
def test_readable_conv_matches_loop_reference_and_fast_conv(N, C, F, H, W, k, s, p):
    """loop (the definition) == readable == fast, forward and backward."""
    rng = np.random.default_rng(N * 1000 + H * 10 + W)
    readable, fast = _pair(int(rng.integers(1 << 30)), C, F, k, s, p)
    Wt, b = readable.params["W"], readable.params["b"]
    np.testing.assert_array_equal(Wt, fast.params["W"])
    x = rng.normal(size=(N, C, H, W))
    out = readable.forward(x)
    assert out.shape == (N, F, 1 + (H + 2 * p - k) // s, 1 + (W + 2 * p - k) // s)
    assert rel_error(out, ref.conv2d_forward(x, Wt, b, s, p)) < REF_TOL
    assert rel_error(out, fast.forward(x)) < REF_TOL
    dout = rng.normal(size=out.shape)
    dx = readable.backward(dout)
    rdx, rdW, rdb = ref.conv2d_backward(dout, x, Wt, s, p)
    fdx = fast.backward(dout)
    for got, loops, quick in ((dx, rdx, fdx), (readable.grads["W"], rdW, fast.grads["W"]),
                              (readable.grads["b"], rdb, fast.grads["b"])):
        assert got.shape == loops.shape
        assert rel_error(got, loops) < REF_TOL
        assert rel_error(got, quick) < REF_TOL


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (5, 1, 2), (3, 2, 0)])
def test_readable_conv_in_float32_matches_the_fast_one(k, s, p):
    """The networks' dtype: the first two run on the fast layer's grid, the third not."""
    rng = np.random.default_rng(k + s + p)
    readable, fast = _pair(7, 4, 8, k, s, p, dtype=np.float32)
    x = rng.normal(size=(5, 4, 12, 12)).astype(np.float32)
    out = readable.forward(x)
    assert out.dtype == np.float32
    assert rel_error(out, fast.forward(x)) < F32_TOL
    dout = rng.normal(size=out.shape).astype(np.float32)
    dx = readable.backward(dout)
    assert dx.dtype == np.float32
    assert rel_error(dx, fast.backward(dout)) < F32_TOL
    for name in ("W", "b"):
        assert rel_error(readable.grads[name], fast.grads[name]) < F32_TOL, name
