import numpy as np
import pytest

from npcnn.optim import SGD

# Exact float64 arithmetic on short decimals leaves ~1e-16 rounding; 1e-12 is far above
# that and far below any real mistake (the smallest hand-computed term is 2e-3).
TOL = 1e-12


def test_two_steps_with_momentum_weight_decay_and_mask():
    params = np.array([1.0, 2.0, -1.0])  # two weights, one bias
    mask = np.array([1.0, 1.0, 0.0])
    opt = SGD(lr=0.1, momentum=0.9, weight_decay=0.01)

    # Step 1: g = grads + 0.01 * mask * params = [0.51, -0.98, 2.0]
    #         v = -0.1 * g = [-0.051, 0.098, -0.2];  params = [0.949, 2.098, -1.2]
    opt.step(params, np.array([0.5, -1.0, 2.0]), mask)
    np.testing.assert_allclose(opt.velocity, [-0.051, 0.098, -0.2], rtol=0, atol=TOL)
    np.testing.assert_allclose(params, [0.949, 2.098, -1.2], rtol=0, atol=TOL)

    # Step 2: g = [-0.2 + 0.00949, 0 + 0.02098, 1.0] = [-0.19051, 0.02098, 1.0]
    #         v = 0.9 * v - 0.1 * g = [-0.0459 + 0.019051, 0.0882 - 0.002098, -0.18 - 0.1]
    #           = [-0.026849, 0.086102, -0.28]
    #         params = [0.922151, 2.184102, -1.48]
    opt.step(params, np.array([-0.2, 0.0, 1.0]), mask)
    np.testing.assert_allclose(opt.velocity, [-0.026849, 0.086102, -0.28], rtol=0, atol=TOL)
    np.testing.assert_allclose(params, [0.922151, 2.184102, -1.48], rtol=0, atol=TOL)


def test_no_mask_decays_every_parameter():
    params = np.array([2.0, -4.0])
    SGD(lr=0.5, weight_decay=0.1).step(params, np.zeros(2))
    # g = 0.1 * params = [0.2, -0.4]; params -= 0.5 * g
    np.testing.assert_allclose(params, [1.9, -3.8], rtol=0, atol=TOL)


def test_plain_sgd_and_lr_attribute_changes_take_effect():
    params = np.array([1.0])
    opt = SGD(lr=0.1)
    opt.step(params, np.array([1.0]))  # 1 - 0.1
    opt.lr = 0.01  # the trainer sets this between epochs
    opt.step(params, np.array([1.0]))  # 0.9 - 0.01 (momentum 0: no memory of step 1)
    np.testing.assert_allclose(params, [0.89], rtol=0, atol=TOL)


def test_float32_stays_float32_and_buffers_are_reused():
    rng = np.random.default_rng(0)
    params = rng.normal(size=50).astype(np.float32)
    opt = SGD(lr=0.1, momentum=0.9, weight_decay=1e-3)
    opt.step(params, rng.normal(size=50).astype(np.float32), np.ones(50, np.float32))
    v, scratch = opt.velocity, opt._scratch
    opt.step(params, rng.normal(size=50).astype(np.float32), np.ones(50, np.float32))
    assert params.dtype == np.float32 and opt.velocity.dtype == np.float32
    # The second step must write into the buffers of the first, not allocate new ones.
    assert opt.velocity is v and opt._scratch is scratch


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError):
        SGD(lr=0.1).step(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        SGD(lr=0.1, weight_decay=0.1).step(np.zeros(3), np.zeros(3), np.ones(2))


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=6) for _ in range(6)]
    mask = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    params = rng.normal(size=6)
    a = SGD(lr=0.05, momentum=0.8, weight_decay=0.01)
    assert a.state_dict()["velocity"] is None
    for g in grads[:3]:
        a.step(params, g, mask)

    state = a.state_dict()
    b = SGD(lr=1.0)  # deliberately different settings: load_state_dict must overwrite them
    b.load_state_dict(state)
    params_b = params.copy()
    for g in grads[3:]:
        a.step(params, g, mask)
        b.step(params_b, g, mask)
    np.testing.assert_array_equal(params_b, params)  # bit-identical, not just close
    np.testing.assert_array_equal(b.velocity, a.velocity)
    assert (b.lr, b.momentum, b.weight_decay) == (0.05, 0.8, 0.01)
    # The saved velocity is a snapshot: later steps of `a` did not change it.
    assert not np.array_equal(state["velocity"], a.velocity)
