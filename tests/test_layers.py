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
from conftest import random_conv_cases

from npcnn import reference as ref
from npcnn.gradcheck import numerical_gradient, rel_error
from npcnn.im2col import Grid, GridConv, col2im, conv_grid, im2col, out_size
from npcnn.layers import (
    AvgPool2D,
    Conv2D,
    ConvReLUPool,
    Flatten,
    GridBatch,
    Linear,
    MaxPool2D,
    ReLU,
    Sigmoid,
)

GRAD_TOL = 1e-7
REF_TOL = 1e-10


def _conv(rng, C, F, k, s=1, p=0, dtype=np.float64):
    conv = Conv2D(C, F, k, stride=s, padding=p, init_std=1.0, rng=rng, dtype=dtype)
    conv.params["b"][...] = rng.normal(size=F)  # nonzero so the bias path is checked
    return conv


@pytest.mark.parametrize("N,C,F,H,W,k,s,p", random_conv_cases())
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


# -- grids: flat layouts with shared zero pads -----------------------------------------


@pytest.mark.parametrize("H,W,pad,phases,margin", [(5, 7, 1, 1, 9), (6, 4, 2, 2, 0),
                                                    (8, 8, 1, 2, 11), (3, 3, 0, 1, 0)])
def test_grid_layout_matches_the_loop_reference(H, W, pad, phases, margin):
    rng = np.random.default_rng(H * W + pad)
    x = rng.normal(size=(3, 2, H, W))
    g = Grid(3, H, W, pad, phases, margin)
    data = np.full((2, g.size), 0.0)
    g.put(data, x.transpose(1, 0, 2, 3))
    want, Wq, S = ref.to_grid(x, pad, phases, margin)
    assert (g.Wq, g.S) == (Wq, S)
    np.testing.assert_array_equal(data, want)
    np.testing.assert_array_equal(g.get(data), x.transpose(1, 0, 2, 3))
    ones = ref.to_grid(np.ones_like(x[:, :1]), pad, phases, margin)[0][0]
    # 1/4 on pixels, 0 on the padding, over the body
    np.testing.assert_array_equal(g.mask(0.25, np.float64), 0.25 * ones[margin:g.size - margin])


@pytest.mark.parametrize("N,C,H,W,k,p,phases,block", [
    (3, 2, 6, 5, 3, 1, 1, 2), (2, 3, 7, 9, 3, 0, 1, 1), (2, 2, 5, 6, 3, 2, 1, 3),
    (2, 1, 6, 6, 1, 0, 1, 2), (3, 1, 8, 6, 3, 1, 2, 2), (2, 2, 8, 8, 5, 2, 2, 1),
    (2, 1, 8, 8, 7, 3, 2, 2)])
def test_grid_unfolding_matches_the_references(N, C, H, W, k, p, phases, block):
    """Block by block, the grid's im2col equals the loop version at every position, and
    at every pixel it is the window ``im2col`` takes."""
    rng = np.random.default_rng(N + C + H + W + k + p)
    x = rng.normal(size=(N, C, H, W))
    g = conv_grid(N, H, W, k, p, phases)
    data = np.zeros((C, g.size))
    g.put(data, x.transpose(1, 0, 2, 3))
    P = phases ** 2
    cols = np.full((C * k * k + 1, P * block * g.S), 7.0)
    unf = GridConv(data, g, k, p, cols)
    got = np.empty((C * k * k, g.body))
    for i in range(len(unf.blocks)):
        blk, a, b = unf.unfold(i)
        L = (b - a) * g.S
        for plane in range(P):  # a block holds its images' positions plane by plane
            got[:, (plane * N + a) * g.S:(plane * N + b) * g.S] = \
                blk[:-1, plane * L:(plane + 1) * L]
    assert (cols[-1] == 7.0).all(), "rows beyond C*k*k are left alone"
    np.testing.assert_array_equal(got, ref.im2col_grid(data, N, g.Wq, g.S, k, p, phases,
                                                       g.margin))
    # output pixel (n, h, w) sits where an input pixel (n, h, w) would
    Ho, Wo, sp = H + 2 * p - k + 1, W + 2 * p - k + 1, phases
    want = ref.im2col(x, k, 1, p)  # columns (n, h, w)
    for n in range(N):
        for h in range(Ho):
            for w in range(Wo):
                q = ((h % sp * sp + w % sp) * N + n) * g.S + h // sp * g.Wq + w // sp
                np.testing.assert_array_equal(got[:, q], want[:, (n * Ho + h) * Wo + w])


def test_layers_pass_planes_and_write_into_the_next_grid():
    """Conv -> ReLU -> AvgPool -> Conv inside a chain: the pooling writes the pixels of
    the grid the second convolution reads (no copy), and each gradient comes back on the
    grid of its layer's input; the numbers are those of the loop references."""
    rng = np.random.default_rng(11)
    c1, relu, pool = _conv(rng, 2, 3, 3, 1, 1), ReLU(), AvgPool2D(2)
    c2 = _conv(rng, 3, 2, 3, 1, 1)
    c1.consumer, relu.consumer, pool.consumer = relu, pool, c2
    x = rng.normal(size=(2, 2, 8, 6))
    h1 = c1.forward_cm(x.transpose(1, 0, 2, 3))
    assert isinstance(h1, GridBatch) and not h1.zeros
    h2 = pool.forward_cm(relu.forward_cm(h1))
    assert isinstance(h2, GridBatch) and h2.zeros and h2.grid == c2.input_grid(2, 4, 3)
    y = c2.forward_cm(h2)
    assert c2._bufs.get(("xg", (3, h2.grid.size), h2.dtype.str)) is None, "no copy"
    z1 = ref.conv2d_forward(x, c1.params["W"], c1.params["b"], 1, 1)
    p1 = ref.avgpool2d_forward(ref.relu_forward(z1), 2)
    z2 = ref.conv2d_forward(p1, c2.params["W"], c2.params["b"], 1, 1)
    assert rel_error(y.array().transpose(1, 0, 2, 3), z2) < REF_TOL
    dout = rng.normal(size=z2.shape)
    d = c2.backward_cm(dout.transpose(1, 0, 2, 3))
    assert isinstance(d, GridBatch) and d.grid == h2.grid
    dx = c1.backward_cm(relu.backward_cm(pool.backward_cm(d)))
    dp1, dW2, db2 = ref.conv2d_backward(dout, p1, c2.params["W"], 1, 1)
    dz1 = ref.relu_backward(ref.avgpool2d_backward(dp1, z1.shape, 2), z1)
    rdx, rdW1, _ = ref.conv2d_backward(dz1, x, c1.params["W"], 1, 1)
    assert rel_error(c2.grads["W"], dW2) < REF_TOL and rel_error(c2.grads["b"], db2) < REF_TOL
    assert rel_error(c1.grads["W"], rdW1) < REF_TOL
    assert rel_error(dx.array().transpose(1, 0, 2, 3), rdx) < REF_TOL


def test_relu_takes_a_plain_gradient_for_a_grid_output():
    rng = np.random.default_rng(12)
    conv, relu = _conv(rng, 1, 2, 3, 1, 1), ReLU()
    x = rng.normal(size=(2, 1, 5, 4))
    z = conv.forward_cm(x.transpose(1, 0, 2, 3))
    zd = z.array()
    relu.forward_cm(z)
    dout = rng.normal(size=zd.shape)
    d = relu.backward_cm(dout)  # e.g. from a MaxPool2D, which takes plain arrays
    assert isinstance(d, GridBatch) and d.zeros
    np.testing.assert_array_equal(d.array(), ref.relu_backward(dout, zd))


@pytest.mark.parametrize("N,C,F,H,W,k,nxt", [
    (3, 1, 4, 8, 6, 3, "conv"), (2, 2, 3, 8, 8, 5, "conv"), (2, 1, 2, 8, 8, 7, None),
    (2, 1, 3, 8, 8, 3, "flat"), (2, 2, 2, 7, 6, 3, "conv")])
def test_conv_relu_pool_stage_matches_the_loop_reference(N, C, F, H, W, k, nxt):
    """The fused stage (phase planes, blocks of images, the convolution kept or computed
    again in backward) against the three loop references, for each kind of consumer;
    odd H falls back to the three layers."""
    rng = np.random.default_rng(N * C * F + k)
    conv = _conv(rng, C, F, k, 1, k // 2)
    conv.needs_dx = False
    stage = ConvReLUPool(conv, ReLU(), AvgPool2D(2))
    if nxt == "conv":
        stage.consumer = stage.pool.consumer = _conv(rng, F, 2, 3, 1, 1)
    elif nxt == "flat":
        stage.consumer = stage.pool.consumer = Flatten()
    x = rng.normal(size=(N, C, H, W))
    Wt, b = conv.params["W"].copy(), conv.params["b"].copy()
    want = ref.conv_relu_pool_forward(x, Wt, b, k // 2)
    dout = rng.normal(size=want.shape)
    rdW, rdb = ref.conv_relu_pool_backward(dout, x, Wt, b, k // 2)
    for block, keep in ((1 << 20, 1 << 30), (1500, 0)):  # one block, kept; many, again
        stage.BLOCK_FLOATS, stage.KEEP_FLOATS = block, keep
        y = stage.forward_cm(x.transpose(1, 0, 2, 3))
        got = y.array() if isinstance(y, GridBatch) else y
        assert rel_error(got.transpose(1, 0, 2, 3), want) < REF_TOL
        assert isinstance(y, GridBatch) == (nxt == "conv" and H % 2 == 0)
        assert stage.backward_cm(dout.transpose(1, 0, 2, 3)) is None
        assert rel_error(conv.grads["W"], rdW) < REF_TOL
        assert rel_error(conv.grads["b"], rdb) < REF_TOL


@pytest.mark.parametrize("keep", [1 << 30, 0], ids=["kept", "again"])
def test_blank_windows_give_exact_zeros_and_pass_no_gradient(keep):
    """Blank input windows (MNIST's background) with zero-initialised biases give
    pre-activations of exactly 0, where ReLU's mask alone decides the gradient: it is
    ``x > 0`` (PyTorch's too), so those positions add nothing to db. A mask of ``>= 0``
    would; the loop reference tells the two apart exactly here and nowhere else."""
    rng = np.random.default_rng(5)
    conv = _conv(rng, 1, 3, 3, 1, 1)
    conv.params["b"][...] = 0  # as initialised
    conv.needs_dx = False
    stage = ConvReLUPool(conv, ReLU(), AvgPool2D(2))
    x = rng.normal(size=(2, 1, 8, 8))
    x[:, :, :4] = 0.0  # the top half blank: every window there sums to exactly 0
    Wt, b = conv.params["W"].copy(), conv.params["b"].copy()
    z = ref.conv2d_forward(x, Wt, b, 1, 1)
    assert np.count_nonzero(z == 0) >= 2 * 3 * 8 * 3  # rows 0-2 of every map are exact 0
    dout = rng.normal(size=(2, 3, 4, 4))
    rdW, rdb = ref.conv_relu_pool_backward(dout, x, Wt, b, 1)
    ge = ref.avgpool2d_backward(dout, z.shape, 2) * (z >= 0)  # what ">= 0" would give
    assert not np.allclose(rdb, ge.sum(axis=(0, 2, 3)))  # the masks differ here
    stage.BLOCK_FLOATS, stage.KEEP_FLOATS = 1 << 20, keep
    stage.forward_cm(x.transpose(1, 0, 2, 3))
    stage.backward_cm(dout.transpose(1, 0, 2, 3))
    assert rel_error(conv.grads["b"], rdb) < REF_TOL
    assert rel_error(conv.grads["W"], rdW) < REF_TOL
    relu = ReLU()
    y = relu.forward(z)
    np.testing.assert_array_equal(relu.backward(np.ones_like(z)), (y > 0).astype(float))
