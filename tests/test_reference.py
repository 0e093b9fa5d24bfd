import math

import numpy as np
import pytest

from npcnn import reference as ref
from npcnn.gradcheck import numerical_gradient, rel_error

# Gradient-check tolerance: float64 centered differences at h=1e-6 have ~1e-10 relative
# error on these small, smooth (piecewise-linear) functions; any indexing or scaling
# mistake in a backward pass gives an error of order 1e-2..1.
GRAD_TOL = 1e-7
# Identities that hold up to float64 round-off over a few dozen terms.
EXACT_TOL = 1e-12

CONV_CASES = [(1, 0), (1, 1), (2, 1), (3, 2)]  # (stride, padding)


def rng(seed=0):
    return np.random.default_rng(seed)


def assert_grad(analytic, f, x, dout):
    """``analytic`` must match the numerical gradient of sum(f(x) * dout) w.r.t. x."""
    assert analytic.shape == x.shape
    assert rel_error(analytic, numerical_gradient(f, x, dout)) < GRAD_TOL


# -- gradcheck itself ------------------------------------------------------------------


def test_numerical_gradient_of_a_known_function_and_restores_x():
    x = rng().normal(size=(3, 4))
    x0 = x.copy()
    dout = rng(1).normal(size=(3, 4))
    # d/dx sum(x**3 * dout) = 3 x**2 dout.
    numeric = numerical_gradient(lambda z: z**3, x, dout)
    assert rel_error(numeric, 3 * x0**2 * dout) < GRAD_TOL
    np.testing.assert_array_equal(x, x0)
    with pytest.raises(TypeError):
        numerical_gradient(lambda z: z, x.astype(np.float32), 1.0)


def test_rel_error_definition():
    # max|a-b| = 1, max(|a|+|b|) = 3 + 4 = 7.
    assert rel_error(np.array([1.0, 3.0]), np.array([2.0, 4.0])) == pytest.approx(1 / 7)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


# -- convolution -----------------------------------------------------------------------


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_identity_1x1_kernel_returns_input(stride):
    x = rng().normal(size=(2, 3, 5, 4))  # non-square on purpose
    W = np.eye(3).reshape(3, 3, 1, 1)
    out = ref.conv2d_forward(x, W, np.zeros(3), stride=stride)
    np.testing.assert_array_equal(out, x[:, :, ::stride, ::stride])


def test_conv_hand_example_is_cross_correlation():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]
    W = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    b = np.array([1.0])
    # out[0,0] = 1*1 + 2*2 + 3*4 + 4*5 + 1 = 38; a flipped kernel (true convolution)
    # would give 4*1 + 3*2 + 2*4 + 1*5 + 1 = 24 instead.
    np.testing.assert_array_equal(ref.conv2d_forward(x, W, b), [[[[38, 48], [68, 78]]]])
    # Stride 2, padding 1: the windows at (0,0), (0,2), (2,0), (2,2) of the zero-padded
    # 5x5 input: 4*1 = 4; 3*2 + 4*3 = 18; 2*4 + 4*7 = 36; 5 + 12 + 24 + 36 = 77; plus b.
    out = ref.conv2d_forward(x, W, b, stride=2, padding=1)
    np.testing.assert_array_equal(out, [[[[5, 19], [37, 78]]]])


def test_conv_sums_over_input_channels():
    x = np.stack([np.arange(1.0, 10.0).reshape(3, 3), np.ones((3, 3))])[None]  # (1,2,3,3)
    W = np.stack([np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2))])[None]  # (1,2,2,2)
    # Channel 1 adds 4 ones to every window of the hand example above (bias 0 here).
    out = ref.conv2d_forward(x, W, np.zeros(1))
    np.testing.assert_array_equal(out, [[[[41, 51], [71, 81]]]])


@pytest.mark.parametrize(("stride", "padding"), CONV_CASES)
def test_conv_backward_matches_numerical_gradient(stride, padding):
    r = rng(stride * 10 + padding)
    x = r.normal(size=(2, 2, 5, 6))
    W = r.normal(size=(3, 2, 3, 3))
    b = r.normal(size=3)
    dout = r.normal(size=ref.conv2d_forward(x, W, b, stride, padding).shape)
    dx, dW, db = ref.conv2d_backward(dout, x, W, stride, padding)
    fwd = ref.conv2d_forward
    assert_grad(dx, lambda v: fwd(v, W, b, stride, padding), x, dout)
    assert_grad(dW, lambda v: fwd(x, v, b, stride, padding), W, dout)
    assert_grad(db, lambda v: fwd(x, W, v, stride, padding), b, dout)


# -- im2col ----------------------------------------------------------------------------

IM2COL_CASES = [  # (x shape, k, stride, padding)
    ((2, 3, 5, 5), 3, 1, 1),
    ((1, 2, 6, 7), 2, 2, 0),
    ((3, 1, 7, 5), 3, 2, 1),
    ((2, 2, 4, 6), 3, 3, 2),
    ((1, 1, 3, 3), 1, 1, 0),
]


@pytest.mark.parametrize(("shape", "k", "stride", "padding"), IM2COL_CASES)
def test_col2im_is_the_adjoint_of_im2col(shape, k, stride, padding):
    r = rng(sum(shape) + k)
    x = r.normal(size=shape)
    cols_shape = ref.im2col(x, k, stride, padding).shape
    c = r.normal(size=cols_shape)
    lhs = np.vdot(ref.im2col(x, k, stride, padding), c)
    rhs = np.vdot(x, ref.col2im(c, shape, k, stride, padding))
    assert abs(lhs - rhs) < EXACT_TOL * max(1.0, abs(lhs))


@pytest.mark.parametrize(("shape", "k", "stride", "padding"), IM2COL_CASES)
def test_im2col_layout_turns_conv_into_a_matmul(shape, k, stride, padding):
    # Rows ordered (c, i, j) must match W.reshape(F, C*k*k); columns ordered (n, h', w')
    # must reshape to (F, N, H', W'). Any other order breaks this against the loop conv.
    r = rng(sum(shape) + k + 1)
    x = r.normal(size=shape)
    W = r.normal(size=(4, shape[1], k, k))
    b = r.normal(size=4)
    expected = ref.conv2d_forward(x, W, b, stride, padding)
    N, F, Ho, Wo = expected.shape
    cols = ref.im2col(x, k, stride, padding)
    assert cols.shape == (shape[1] * k * k, N * Ho * Wo)
    out = (W.reshape(F, -1) @ cols).reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3) + b[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=0, atol=EXACT_TOL * np.abs(expected).max())


# -- pooling ---------------------------------------------------------------------------

POOL_CASES = [(2, None, 0), (3, 2, 1), (2, 1, 1), (3, 3, 1)]  # (k, stride, padding)


def test_avgpool_hand_examples():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(ref.avgpool2d_forward(x, 2), [[[[2.5, 4.5], [10.5, 12.5]]]])
    # Padding zeros count: each 2x2 window of the padded ones(2,2) holds a single 1.
    out = ref.avgpool2d_forward(np.ones((1, 1, 2, 2)), 2, padding=1)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 0.25))


def test_maxpool_hand_examples():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(ref.maxpool2d_forward(x, 2), [[[[5, 7], [13, 15]]]])
    # Padding is -inf, never a 0 that beats negative inputs.
    out = ref.maxpool2d_forward(np.full((1, 1, 2, 2), -5.0), 2, padding=1)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), -5.0))
    # Ties: the whole gradient goes to the first maximum in row-major order.
    dx = ref.maxpool2d_backward(np.array([[[[3.0]]]]), np.zeros((1, 1, 2, 2)), 2)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.parametrize(("k", "stride", "padding"), POOL_CASES)
def test_avgpool_backward_matches_numerical_gradient(k, stride, padding):
    r = rng(k + padding)
    x = r.normal(size=(2, 2, 5, 6))
    dout = r.normal(size=ref.avgpool2d_forward(x, k, stride, padding).shape)
    dx = ref.avgpool2d_backward(dout, x.shape, k, stride, padding)
    assert_grad(dx, lambda v: ref.avgpool2d_forward(v, k, stride, padding), x, dout)


@pytest.mark.parametrize(("k", "stride", "padding"), POOL_CASES)
def test_maxpool_backward_matches_numerical_gradient(k, stride, padding):
    r = rng(k + padding + 1)
    # Distinct values 0.01 apart: a 1e-6 nudge can never change which entry is the max,
    # so the max is differentiable at x and the check is meaningful.
    x = r.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.01
    dout = r.normal(size=ref.maxpool2d_forward(x, k, stride, padding).shape)
    dx = ref.maxpool2d_backward(dout, x, k, stride, padding)
    assert_grad(dx, lambda v: ref.maxpool2d_forward(v, k, stride, padding), x, dout)


# -- elementwise and linear ------------------------------------------------------------


def test_relu_sigmoid_linear_backward_match_numerical_gradient():
    r = rng(3)
    # Keep |x| >= 0.1 so the relu kink at 0 is never within h of a sample.
    x = r.uniform(0.1, 2.0, size=(4, 5)) * r.choice([-1.0, 1.0], size=(4, 5))
    dout = r.normal(size=(4, 5))
    assert_grad(ref.relu_backward(dout, x), ref.relu_forward, x, dout)
    assert_grad(ref.sigmoid_backward(dout, x), ref.sigmoid_forward, x, dout)

    W, b = r.normal(size=(5, 3)), r.normal(size=3)
    dy = r.normal(size=(4, 3))
    dx, dW, db = ref.linear_backward(dy, x, W)
    assert_grad(dx, lambda v: ref.linear_forward(v, W, b), x, dy)
    assert_grad(dW, lambda v: ref.linear_forward(x, v, b), W, dy)
    assert_grad(db, lambda v: ref.linear_forward(x, W, v), b, dy)


def test_sigmoid_values_and_no_overflow():
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
    with np.errstate(over="raise", invalid="raise"):  # a naive exp(1000) would raise here
        s = ref.sigmoid_forward(x)
    # Each side written in the form that cannot overflow for its sign.
    expected = [math.exp(v) / (1 + math.exp(v)) if v < 0 else 1 / (1 + math.exp(-v)) for v in x]
    # A few float64 ulps apart at most, including the far tails (no cancellation).
    np.testing.assert_allclose(s, expected, rtol=1e-13, atol=0)
    assert s[3] == 0.5


# -- PyTorch as an oracle (skipped when torch is not installed) -------------------------


def test_forward_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    r = rng(4)
    for shape, f, k, stride, padding in [
        ((2, 3, 7, 6), 4, 3, 1, 1),
        ((1, 2, 8, 8), 3, 3, 2, 1),
        ((2, 1, 9, 5), 2, 5, 2, 2),
        ((3, 4, 6, 6), 5, 2, 1, 0),
    ]:
        x = r.normal(size=shape)
        W = r.normal(size=(f, shape[1], k, k))
        b = r.normal(size=f)
        tx, tW, tb = (torch.from_numpy(a) for a in (x, W, b))
        # float64 on both sides: only summation order differs, ~1e-15 relative.
        expected = tf.conv2d(tx, tW, tb, stride=stride, padding=padding).numpy()
        np.testing.assert_allclose(
            ref.conv2d_forward(x, W, b, stride, padding), expected, rtol=1e-12, atol=1e-12
        )
        # PyTorch allows pooling padding only up to k // 2.
        p = min(padding, k // 2)
        expected = tf.avg_pool2d(tx, k, stride, p, count_include_pad=True).numpy()
        np.testing.assert_allclose(
            ref.avgpool2d_forward(x, k, stride, p), expected, rtol=1e-12, atol=1e-12
        )
        expected = tf.max_pool2d(tx, k, stride, p).numpy()
        np.testing.assert_array_equal(ref.maxpool2d_forward(x, k, stride, p), expected)
