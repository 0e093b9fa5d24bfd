import math

import numpy as np
import pytest

from npcnn.gradcheck import numerical_gradient, rel_error
from npcnn.losses import EuclideanLoss, SoftmaxCrossEntropyLoss, get_loss

LOSSES = [SoftmaxCrossEntropyLoss, EuclideanLoss]


@pytest.mark.parametrize("cls", LOSSES)
def test_gradient_matches_centered_differences(cls):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(5, 7))
    labels = rng.integers(0, 7, size=5)
    loss = cls()
    loss.forward(scores, labels)
    analytic = loss.backward()
    numeric = numerical_gradient(lambda s: cls().forward(s, labels), scores, 1.0)
    # float64 centered differences at h=1e-6 carry ~1e-10 relative error; 1e-7 leaves
    # room for that while a wrong factor (e.g. a missing 1/N) gives an error near 1.
    assert rel_error(analytic, numeric) < 1e-7


def test_softmax_zero_scores_give_log_k():
    k = 10
    loss = SoftmaxCrossEntropyLoss()
    # Uniform probabilities 1/K for any label: -log(1/K) = ln K (CS231n's first sanity check).
    value = loss.forward(np.zeros((4, k)), np.array([0, 3, 9, 5]))
    assert value == pytest.approx(math.log(k), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_scores(dtype):
    scores = np.array([[1e4, 0.0, -1e4], [1e4, 1e4 + 1, 0.0]], dtype=dtype)
    loss = SoftmaxCrossEntropyLoss()
    assert loss.forward(scores, np.array([0, 1])) == pytest.approx(
        0.5 * math.log1p(math.exp(-1)), rel=1e-5
    )
    # The true class sits 2e4 below the max: its probability underflows to 0, yet the loss
    # must be the finite 2e4 a log-sum-exp gives, not log(0) = inf.
    expected = (2e4 + (1e4 + 1 + math.log1p(math.exp(-1)))) / 2
    assert loss.forward(scores, np.array([2, 2])) == pytest.approx(expected, rel=1e-6)
    assert np.isfinite(loss.backward()).all()
    rng = np.random.default_rng(1)
    big = (rng.normal(size=(8, 10)) * 1e4).astype(dtype)
    assert np.isfinite(loss.forward(big, rng.integers(0, 10, size=8)))
    assert np.isfinite(loss.backward()).all()


def test_softmax_hand_computed():
    # Row 0: scores (0, ln 3) -> p = (1/4, 3/4), label 1 -> loss ln(4/3).
    # Row 1: scores (0, 0)    -> p = (1/2, 1/2), label 0 -> loss ln 2.
    scores = np.array([[0.0, math.log(3)], [0.0, 0.0]])
    loss = SoftmaxCrossEntropyLoss()
    assert loss.forward(scores, np.array([1, 0])) == pytest.approx(math.log(8 / 3) / 2, rel=1e-12)
    # (p - onehot) / N with N = 2.
    expected = np.array([[1 / 8, -1 / 8], [-1 / 4, 1 / 4]])
    np.testing.assert_allclose(loss.backward(), expected, rtol=0, atol=1e-15)


def test_euclidean_hand_computed():
    # s - onehot = [[0, 2], [0, -0.5]]: squared norms 4 and 0.25, L = 0.5/2 * 4.25.
    scores = np.array([[1.0, 2.0], [0.0, 0.5]])
    loss = EuclideanLoss()
    assert loss.forward(scores, np.array([0, 1])) == pytest.approx(1.0625, rel=1e-15)
    np.testing.assert_allclose(loss.backward(), [[0.0, 1.0], [0.0, -0.25]], rtol=0, atol=0)


@pytest.mark.parametrize("cls", LOSSES)
def test_float32_in_float32_out(cls):
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    loss32, loss64 = cls(), cls()
    value32 = loss32.forward(scores.astype(np.float32), labels)
    value64 = loss64.forward(scores, labels)
    assert isinstance(value32, float)
    grad32 = loss32.backward()
    assert grad32.dtype == np.float32
    # Same numbers as float64 up to float32 rounding (eps ~ 6e-8, a few ops deep).
    assert value32 == pytest.approx(value64, rel=1e-6)
    np.testing.assert_allclose(grad32, loss64.backward(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls", LOSSES)
def test_bad_labels_are_rejected(cls):
    with pytest.raises(ValueError):
        cls().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError):
        cls().forward(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(ValueError):
        cls().forward(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_get_loss():
    assert isinstance(get_loss("softmax"), SoftmaxCrossEntropyLoss)
    assert isinstance(get_loss("euclidean"), EuclideanLoss)
    with pytest.raises(ValueError, match="hinge"):
        get_loss("hinge")
