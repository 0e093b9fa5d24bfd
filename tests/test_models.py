"""Models: parameter counts, the flat parameter buffer, and whole-network gradients."""

from __future__ import annotations

import numpy as np
import pytest

from npcnn.config import TrainConfig
from npcnn.gradcheck import numerical_gradient, rel_error
from npcnn.layers import Conv2D, Linear
from npcnn.losses import SoftmaxCrossEntropyLoss
from npcnn.models import build_network, cnn, count_params, mlp


def test_parameter_counts_match_the_seed():
    assert count_params(cnn()) == 2158  # (1*4*9+4) + (4*4*9+4) + (196*10+10)
    assert count_params(mlp()) == 84_060  # 784*100+100 + 100*50+50 + 50*10+10
    assert count_params(cnn(channels=16)) == (16 * 9 + 16) + (16 * 16 * 9 + 16) + 7850


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_odd_kernels_keep_28_14_7(k):
    m = cnn(kernel_size=k, channels=2)
    assert m.forward(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)


def test_layer_params_are_views_into_the_flat_vector():
    m = cnn()
    conv1, lin = m.layers[0], m.layers[-1]
    assert np.shares_memory(conv1.params["W"], m.params)
    assert np.shares_memory(lin.grads["b"], m.grads)
    m.params[...] = 0
    assert not conv1.params["W"].any() and not lin.params["W"].any()
    # decay mask: weights 1, biases 0, in the same order as params
    n_bias = 4 + 4 + 10
    assert m.decay_mask.sum() == m.params.size - n_bias


def test_init_is_seeded_and_uses_the_stated_stds():
    a, b, c = cnn(seed=0), cnn(seed=0), cnn(seed=1)
    assert np.array_equal(a.params, b.params) and not np.array_equal(a.params, c.params)
    m = cnn(channels=16, init_std=1.0, linear_init_std=0.1)
    # sample stds of 2304 and 7840 normal draws are within a few % of the target
    assert abs(m.layers[3].params["W"].std() - 1.0) < 0.06
    assert abs(m.layers[-1].params["W"].std() - 0.1) < 0.006


@pytest.mark.parametrize("make", [lambda: cnn(channels=2, init_std=0.5, dtype=np.float64),
                                  lambda: mlp(hidden=(6,), init_std=0.3, in_features=784,
                                              dtype=np.float64)])
def test_whole_network_gradient(make):
    """The model's flat gradient equals numerical differentiation of the loss (float64;
    rel_error < 1e-6: a chain of 8 layers accumulates a little more round-off)."""
    rng = np.random.default_rng(0)
    model = make()
    model.params[...] += rng.normal(scale=0.05, size=model.params.shape)  # nonzero biases
    x = rng.random((3, 1, 28, 28))
    y = np.array([1, 7, 3])
    loss = SoftmaxCrossEntropyLoss()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    analytic = model.grads.copy()
    idx = rng.choice(model.params.size, size=40, replace=False)  # a sample keeps it quick
    sub = model.params[idx].copy()

    def f(v):
        model.params[idx] = v
        return loss.forward(model.forward(x, train=False), y)

    num = numerical_gradient(f, sub, 1.0)
    assert rel_error(analytic[idx], num) < 1e-6


def _mixed(dtype=np.float64):
    """Layers that take grids (GridBatch) next to layers that take plain arrays."""
    from npcnn.layers import AvgPool2D, Flatten, MaxPool2D, ReLU, Sigmoid
    from npcnn.models import Sequential

    rng = np.random.default_rng(4)
    return Sequential([
        Conv2D(1, 2, 3, padding=1, init_std=0.5, rng=rng, dtype=dtype), ReLU(), MaxPool2D(2),
        Conv2D(2, 3, 5, padding=2, init_std=0.5, rng=rng, dtype=dtype), Sigmoid(),
        AvgPool2D(2), Conv2D(3, 2, 3, stride=2, padding=1, init_std=0.5, rng=rng, dtype=dtype),
        ReLU(), Flatten(), Linear(2 * 4 * 4, 10, init_std=0.3, rng=rng, dtype=dtype),
    ], dtype=dtype)


def test_mixed_layouts_network_gradient_and_public_api():
    """Grid and plain-array layers mixed (MaxPool2D and Sigmoid take plain arrays, a stride-2
    convolution does not run on a grid): the flat gradient still matches numerical
    differentiation, and the forward equals the layers' public API one by one."""
    rng = np.random.default_rng(0)
    model = _mixed()
    model.params[...] += rng.normal(scale=0.05, size=model.params.shape)
    x = rng.random((3, 1, 28, 28))
    y = np.array([1, 7, 3])
    h = x
    for layer in model.layers:
        h = layer.forward(h)
    assert rel_error(model.forward(x), h) < 1e-12
    loss = SoftmaxCrossEntropyLoss()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    analytic = model.grads.copy()
    idx = rng.choice(model.params.size, size=40, replace=False)
    sub = model.params[idx].copy()

    def f(v):
        model.params[idx] = v
        return loss.forward(model.forward(x, train=False), y)

    assert rel_error(analytic[idx], numerical_gradient(f, sub, 1.0)) < 1e-6


def test_the_seed_network_runs_its_first_layers_as_one_stage():
    from npcnn.layers import ConvReLUPool

    m = cnn(channels=3)
    assert isinstance(m._steps[0], ConvReLUPool) and len(m._steps) == len(m.layers) - 2
    assert m._steps[0].conv is m.layers[0] and m._steps[1] is m.layers[3]
    twin = m.replica()  # its own stage, on its own layers
    assert twin._steps[0] is not m._steps[0] and twin._steps[0].conv is twin.layers[0]


def test_copies_and_pickles_carry_parameters_not_work_buffers():
    import copy
    import pickle

    m = cnn(channels=8, seed=1)
    x = np.random.default_rng(0).random((20, 1, 28, 28), dtype=np.float32)
    loss = SoftmaxCrossEntropyLoss()
    loss.forward(m.forward(x), np.arange(20) % 10)
    m.backward(loss.backward())
    blob = pickle.dumps(m)
    assert len(blob) < 1_000_000  # with the work buffers of this batch: ~7 MB
    for twin in (pickle.loads(blob), copy.deepcopy(m)):
        assert all(not layer._bufs for layer in twin._steps)
        np.testing.assert_array_equal(twin.forward(x, train=False), m.forward(x, train=False))


def test_model_forward_matches_layer_by_layer_public_api():
    m = cnn(channels=3, seed=2, dtype=np.float64)
    x = np.random.default_rng(1).random((4, 1, 28, 28))
    h = x
    for layer in m.layers:
        h = layer.forward(h)
    assert rel_error(m.forward(x), h) < 1e-12


def test_build_network_from_config():
    m = build_network(TrainConfig(channels=8, kernel_size=5))
    assert isinstance(m.layers[0], Conv2D) and m.layers[0].params["W"].shape == (8, 1, 5, 5)
    m = build_network(TrainConfig(model="mlp"))
    assert count_params(m) == 84_060 and isinstance(m.layers[1], Linear)


def test_state_dict_round_trip():
    a, b = cnn(seed=0), cnn(seed=1)
    b.load_state_dict(a.state_dict())
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    assert np.array_equal(a.forward(x), b.forward(x))
    with pytest.raises(ValueError):
        b.load_state_dict(cnn(channels=5).state_dict())
