"""The batch split: how many parts (from the network's size), on how many threads (from
the cores), and that the parts give the whole batch's numbers."""

from __future__ import annotations

import numpy as np

from npcnn import batch_split
from npcnn.batch_split import BatchSplit
from npcnn.config import TrainConfig
from npcnn.gradcheck import rel_error
from npcnn.losses import SoftmaxCrossEntropyLoss
from npcnn.models import Sequential, build_network, cnn, macs_per_image


def _step(model, x, y):
    loss = SoftmaxCrossEntropyLoss()
    scores = model.forward(x)
    loss.forward(scores, y)
    model.backward(loss.backward())
    return scores, model.grads.copy()


def test_the_split_follows_the_network_and_threads_follow_the_cores():
    small, big = TrainConfig(), TrainConfig(channels=16)
    assert batch_split.chunks(macs_per_image(small)) == 1
    assert batch_split.chunks(macs_per_image(big)) == 2
    assert batch_split.chunks(batch_split.SPLIT_MIN_MACS) == 2
    assert batch_split.chunks(batch_split.SPLIT_MIN_MACS - 1) == 1
    assert batch_split.threads_for(1, available=2) == 1
    assert batch_split.threads_for(2, available=2) == 2
    assert batch_split.threads_for(2, available=1) == 1
    assert batch_split.threads_for(2, requested=8) == 2  # no more than its parts
    assert batch_split.threads_for(2, requested=1) == 1


def test_split_wraps_the_networks_that_pay_for_it():
    net = build_network(TrainConfig())
    assert batch_split.split(net, threads=2) is net  # C=4: one chunk, as built
    net = build_network(TrainConfig(channels=16))
    big = batch_split.split(net, threads=1)
    assert isinstance(big, BatchSplit) and big.model is net
    assert big.threads == 1 and big.chunks == len(big.replicas) == 2
    assert batch_split.split(net, threads=8).threads == 2
    assert isinstance(big.replicas[1], Sequential) and big.replicas[1].params is net.params


def test_two_parts_equal_the_whole_batch():
    """Two half batches give the whole batch's gradient up to float32 summation order
    (rel. 1e-5 leaves ~100x margin over the observed ~1e-7)."""
    rng = np.random.default_rng(0)
    x = rng.random((10, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 10)
    one, two = cnn(seed=3), BatchSplit(cnn(seed=3), chunks=2, threads=2)
    grads = [_step(one, x, y), _step(two, x, y)]
    assert rel_error(grads[0][0], grads[1][0]) < 1e-5
    assert rel_error(grads[0][1], grads[1][1]) < 1e-5
    two.params[...] = 0  # replicas share the parameters: one write reaches all
    assert not two.replicas[1].layers[0].params["W"].any()


def test_the_thread_count_does_not_change_the_numbers():
    """The split, not the threads, fixes the float sums: 1 and 2 threads on the same two
    chunks agree bit for bit, so a run's history does not depend on the machine's cores."""
    rng = np.random.default_rng(1)
    x = rng.random((100, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 100)
    seq = _step(BatchSplit(cnn(channels=16, seed=3), chunks=2, threads=1), x, y)
    par = _step(BatchSplit(cnn(channels=16, seed=3), chunks=2, threads=2), x, y)
    np.testing.assert_array_equal(seq[0], par[0])
    np.testing.assert_array_equal(seq[1], par[1])
