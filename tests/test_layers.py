"""The vectorized layers against numerical gradients and the loop-based references.

Tolerances:
- float64 centered differences (h = 1e-6) on O(1) values agree with an exact gradient
  to ~1e-9 relative; we require rel_error < 1e-7, which any indexing or sign bug
  (errors of order 1) fails by many orders of magnitude.
- fast vs loop reference in float64: both compute the same sums in a different order,
  so they agree to ~1e-14; we require 1e-10.
- float32 runs agree with float64 to ~1e-6 relative; we require 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from npcnn import reference as ref
from npcnn.gradcheck import numerical_gradient, rel_error
from npcnn.im2col import col2im, im2col, out_size
from npcnn.layers import AvgPool2D, Conv2D, Flatten, Linear, MaxPool2D, ReLU, Sigmoid

GRAD_TOL = 1e-7
REF_TOL = 1e-10


def _conv(rng, C, F, k, s=1, p=0, dtype=np.float64):
    conv = Conv2D(C, F, k, stride=s, padding=p, init_std=1.0, rng=rng, dtype=dtype)
    conv.params["b"][...] = rng.normal(size=F)  # nonzero so the bias path is checked
    return conv


def _random_conv_cases(n=24, seed=1):
    """Random shapes: strides 1-2, paddings 0-2, kernels 1-7, non-square inputs."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        k = int(rng.integers(1, 8))
        s = int(rng.integers(1, 3))
        p = int(rng.integers(0, 3))
        H, W = int(rng.integers(k, k + 7)), int(rng.integers(k, k + 7))
        if H + 2 * p < k or W + 2 * p < k:
            continue
        cases.append((int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                      int(rng.integers(1, 5)), H, W, k, s, p))
    return cases


@pytest.mark.parametrize("N,C,F,H,W,k,s,p", _random_conv_cases())
def test_conv_matches_loop_reference(N, C, F, H, W, k, s, p):
    rng = np.random.default_rng(N * 1000 + H * 10 + W)
    conv = _conv(rng, C, F, k, s, p)
    x = rng.normal(size=(N, C, H, W))
    out = conv.forward(x)
    Wt, b = conv.params["W"].copy(), conv.params["b"].copy()
    assert out.shape == (N, F, out_size(H, k, s, p), out_size(W, k, s, p))
    assert rel_error(out, ref.conv2d_forward(x, Wt, b, s, p)) < REF_TOL
    dout = rng.normal(size=out.shape)
    dx = conv.backward(dout)
    rdx, rdW, rdb = ref.conv2d_backward(dout, x, Wt, s, p)
    assert rel_error(dx, rdx) < REF_TOL
    assert rel_error(conv.grads["W"], rdW) < REF_TOL
    assert rel_error(conv.grads["b"], rdb) < REF_TOL


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (3, 2, 1), (2, 2, 0), (5, 1, 2), (1, 1, 0),
                                   (3, 1, 3)])
def test_conv_gradients_numerically(k, s, p):
    rng = np.random.default_rng(k * 10 + s + p)
    conv = _conv(rng, 2, 3, k, s, p)
    x = rng.normal(size=(2, 2, 6, 5))
    dout = rng.normal(size=conv.forward(x).shape)
    dx = conv.backward(dout)
    assert rel_error(dx, numerical_gradient(conv.forward, x, dout)) < GRAD_TOL
    for name in ("W", "b"):
        p_arr = conv.params[name]
        num = numerical_gradient(lambda _: conv.forward(x), p_arr, dout)
        assert rel_error(conv.grads[name], num) < GRAD_TOL, name


@pytest.mark.parametrize("cls,rfwd", [(AvgPool2D, ref.avgpool2d_forward),
                                      (MaxPool2D, ref.maxpool2d_forward)])
@pytest.mark.parametrize("k,s,p,H,W", [(2, None, 0, 8, 6), (2, None, 0, 7, 9), (3, 2, 1, 7, 8),
                                       (2, 1, 0, 5, 4), (3, None, 0, 9, 6), (3, 1, 1, 6, 7)])
def test_pooling_matches_reference_and_gradients(cls, rfwd, k, s, p, H, W):
    rng = np.random.default_rng(H * W + k)
    # A permutation: distinct values, so max pooling has no ties and is differentiable.
    x = rng.permutation(2 * 3 * H * W).reshape(2, 3, H, W).astype(np.float64) / 10
    pool = cls(k, s, p)
    out = pool.forward(x)
    assert rel_error(out, rfwd(x, k, s, p)) < REF_TOL
    dout = rng.normal(size=out.shape)
    dx = pool.backward(dout)
    if cls is AvgPool2D:
        rdx = ref.avgpool2d_backward(dout, x.shape, k, s, p)
    else:
        rdx = ref.maxpool2d_backward(dout, x, k, s, p)
    assert rel_error(dx, rdx) < REF_TOL
    # h = 1e-6 is far below the 0.1 gap between values, so no max switches.
    assert rel_error(dx, numerical_gradient(cls(k, s, p).forward, x, dout)) < GRAD_TOL


@pytest.mark.parametrize("layer,rf,rb", [(ReLU, ref.relu_forward, ref.relu_backward),
                                         (Sigmoid, ref.sigmoid_forward, ref.sigmoid_backward)])
def test_activations(layer, rf, rb):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3, 5, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink for the numerical check
    act = layer()
    out = act.forward(x)
    assert rel_error(out, rf(x)) < REF_TOL
    dout = rng.normal(size=x.shape)
    dx = act.backward(dout)
    assert rel_error(dx, rb(dout, x)) < REF_TOL
    assert rel_error(dx, numerical_gradient(layer().forward, x, dout)) < GRAD_TOL


def test_linear():
    rng = np.random.default_rng(4)
    lin = Linear(7, 5, init_std=1.0, rng=rng, dtype=np.float64)
    lin.params["b"][...] = rng.normal(size=5)
    x = rng.normal(size=(6, 7))
    out = lin.forward(x)
    assert rel_error(out, ref.linear_forward(x, lin.params["W"], lin.params["b"])) < REF_TOL
    dout = rng.normal(size=out.shape)
    dx = lin.backward(dout)
    assert rel_error(dx, numerical_gradient(lin.forward, x, dout)) < GRAD_TOL
    for name in ("W", "b"):
        num = numerical_gradient(lambda _: lin.forward(x), lin.params[name], dout)
        assert rel_error(lin.grads[name], num) < GRAD_TOL, name


def test_flatten_is_row_major_over_chw():
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    fl = Flatten()
    out = fl.forward(x)
    assert np.array_equal(out, x.reshape(2, 12))  # PyTorch's x.flatten(1)
    assert np.array_equal(fl.backward(out), x)


def test_params_and_grads_contract():
    rng = np.random.default_rng(5)
    conv = Conv2D(3, 4, 5, init_std=0.5, rng=rng)
    lin = Linear(10, 3, rng=rng)
    assert conv.params["W"].shape == (4, 3, 5, 5) and conv.params["b"].shape == (4,)
    assert lin.params["W"].shape == (10, 3) and lin.params["b"].shape == (3,)
    for layer in (conv, lin):
        assert layer.params["W"].dtype == np.float32
        assert not layer.params["b"].any(), "biases start at zero"
        assert {k: v.shape for k, v in layer.grads.items()} == \
            {k: v.shape for k, v in layer.params.items()}
    # Draws are N(0, init_std^2): the sample std of 300 weights is within ~10% of 0.5.
    assert abs(conv.params["W"].std() - 0.5) < 0.05


def test_writing_params_in_place_takes_effect():
    rng = np.random.default_rng(6)
    conv = Conv2D(1, 2, 3, padding=1, rng=rng, dtype=np.float64)
    x = rng.normal(size=(1, 1, 4, 4))
    conv.params["W"][...] = 0
    conv.params["b"][...] = [1.0, -2.0]
    out = conv.forward(x)
    assert np.allclose(out[0, 0], 1.0) and np.allclose(out[0, 1], -2.0)


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(7)
    c64 = _conv(rng, 3, 4, 3, 1, 1)
    c32 = Conv2D(3, 4, 3, padding=1, rng=rng, dtype=np.float32)
    c32.params["W"][...] = c64.params["W"]
    c32.params["b"][...] = c64.params["b"]
    x = rng.normal(size=(2, 3, 8, 8))
    o64, o32 = c64.forward(x), c32.forward(x.astype(np.float32))
    assert o32.dtype == np.float32
    assert rel_error(o32, o64) < 1e-4


def test_buffers_are_reused_and_outputs_not_aliased():
    rng = np.random.default_rng(8)
    conv = Conv2D(1, 2, 3, padding=1, rng=rng)
    x1, x2 = rng.random((2, 1, 5, 5), dtype=np.float32), rng.random((2, 1, 5, 5),
                                                                      dtype=np.float32)
    y1 = conv.forward(x1)
    keep = y1.copy()
    conv.forward(x2)
    assert np.array_equal(y1, keep), "public forward must return a fresh array"
    n = len(conv._bufs)
    conv.forward(x1)
    assert len(conv._bufs) == n, "same batch shape must reuse the work buffers"


@pytest.mark.parametrize("k,s,p,H,W", [(3, 1, 1, 7, 5), (3, 2, 0, 8, 9), (5, 2, 2, 6, 6),
                                       (1, 1, 0, 3, 4), (7, 1, 2, 9, 8)])
def test_im2col_matches_reference_and_col2im_is_its_adjoint(k, s, p, H, W):
    rng = np.random.default_rng(H + W + k)
    x = rng.normal(size=(2, 3, H, W))
    cols = im2col(x, k, s, p)
    assert rel_error(cols, ref.im2col(x, k, s, p)) < REF_TOL
    c = rng.normal(size=cols.shape)
    # <im2col(x), c> == <x, col2im(c)>: col2im is exactly the transpose of the unfolding.
    lhs, rhs = np.sum(cols * c), np.sum(x * col2im(c, x.shape, k, s, p))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))
    assert rel_error(col2im(c, x.shape, k, s, p), ref.col2im(c, x.shape, k, s, p)) < REF_TOL


def test_against_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    for (C, Fo, k, s, p, H, W) in [(3, 4, 3, 1, 1, 9, 7), (2, 5, 5, 2, 2, 11, 8)]:
        conv = _conv(rng, C, Fo, k, s, p)
        x = rng.normal(size=(2, C, H, W))
        xt = torch.tensor(x, requires_grad=True)
        Wt = torch.tensor(conv.params["W"].copy(), requires_grad=True)
        bt = torch.tensor(conv.params["b"].copy(), requires_grad=True)
        yt = F.conv2d(xt, Wt, bt, stride=s, padding=p)
        dout = rng.normal(size=tuple(yt.shape))
        yt.backward(torch.tensor(dout))
        assert rel_error(conv.forward(x), yt.detach().numpy()) < REF_TOL
        assert rel_error(conv.backward(dout), xt.grad.numpy()) < REF_TOL
        assert rel_error(conv.grads["W"], Wt.grad.numpy()) < REF_TOL
        assert rel_error(conv.grads["b"], bt.grad.numpy()) < REF_TOL
