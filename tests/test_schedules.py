import pytest

from npcnn.config import TrainConfig
from npcnn.schedules import (
    ConstantLR,
    MomentumSchedule,
    PlateauLR,
    StepLR,
    make_lr_schedule,
    make_momentum_schedule,
)


def lrs(schedule, losses, epochs):
    """The lr of each epoch 1..epochs, given the full loss history."""
    return [schedule.lr_at(e, losses) for e in range(1, epochs + 1)]


def test_constant():
    assert lrs(ConstantLR(0.1), [0.5] * 20, 21) == [0.1] * 21


def test_step():
    # 0.1 * 0.5 ** floor((e - 1) / 3): epochs 1-3, 4-6, 7.
    got = [StepLR(0.1, 3, 0.5).lr_at(e, []) for e in range(1, 8)]
    assert got == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]


def test_plateau_cuts_when_window_is_flat_then_waits_a_full_window():
    # Losses 1.0, 0.9, ..., 0.2 (epochs 1-9), then 0.2 forever. The last 10 losses first
    # all equal 0.2 after epoch 18 (losses 9..18); before that the window still holds
    # 0.3 (epoch 8), whose pull on the mean is 0.01 > 1e-3. So epoch 19 is the first
    # with a halved lr. The list is then cleared: losses 19..28 refill it and the next
    # cut takes effect at epoch 29, although every loss in between is flat.
    losses = [round(1.0 - 0.1 * i, 10) for i in range(9)] + [0.2] * 30
    got = lrs(PlateauLR(0.01), losses, 39)
    assert got[:18] == [0.01] * 18  # epochs 1-18
    assert got[18:28] == [0.005] * 10  # epochs 19-28
    assert got[28:38] == [0.0025] * 10  # epochs 29-38
    assert got[38] == 0.00125  # epoch 39


def test_plateau_mean_includes_the_newest_loss():
    # Nine losses of 1.0 then 1.0011: mean of all ten is 1.00011, so
    # |newest - mean| = 0.00099 < 1e-3 and the lr is cut. Against the mean of the nine
    # older losses the gap would be 0.0011 and there would be no cut.
    losses = [1.0] * 9 + [1.0011]
    assert PlateauLR(1.0).lr_at(11, losses) == 0.5


def test_plateau_noise_above_threshold_never_cuts():
    # Alternating 0.5 +- 0.002: every window's mean is ~0.5, the newest is 0.002 away.
    losses = [0.5 + (0.002 if i % 2 else -0.002) for i in range(40)]
    assert lrs(PlateauLR(0.01), losses, 41) == [0.01] * 41


def test_plateau_never_cuts_before_the_window_is_full():
    flat = [0.3] * 9
    assert lrs(PlateauLR(0.01, window=10), flat, 10) == [0.01] * 10
    # One more flat loss fills the window: the 11th epoch gets the cut.
    assert PlateauLR(0.01, window=10).lr_at(11, flat + [0.3]) == 0.005


def test_plateau_parameters_are_used():
    sched = PlateauLR(1.0, window=3, threshold=0.05, factor=0.1)
    losses = [1.0, 0.98, 0.96, 0.5, 0.49, 0.48]
    # After epoch 3: mean 0.98, |0.96 - 0.98| = 0.02 < 0.05 -> lr 0.1, list cleared.
    # After epoch 6: mean 0.49, |0.48 - 0.49| = 0.01 < 0.05 -> lr 0.01.
    assert lrs(sched, losses, 7) == pytest.approx([1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01])


def test_plateau_is_pure_and_reads_only_past_epochs():
    losses = [0.2] * 30
    sched = PlateauLR(0.01)
    # The full history and the exact prefix give the same answer, called in any order.
    assert sched.lr_at(12, losses) == sched.lr_at(12, losses[:11]) == 0.005
    assert sched.lr_at(5, losses) == 0.01
    assert sched.lr_at(12, losses) == 0.005
    with pytest.raises(ValueError):
        sched.lr_at(12, losses[:10])  # epoch 11's loss is missing
    with pytest.raises(ValueError):
        sched.lr_at(0, losses)


def test_momentum_schedule():
    sched = MomentumSchedule(0.9, until=5, late=0.1)
    assert [sched.momentum_at(e) for e in range(1, 8)] == [0.9] * 5 + [0.1] * 2
    assert MomentumSchedule(0.9).momentum_at(1000) == 0.9  # until=0: never switch


def test_factories_read_the_config():
    cfg = TrainConfig()  # the original's defaults: plateau, lr 0.01, window 10, 1e-3, x0.5
    assert make_lr_schedule(cfg) == PlateauLR(0.01, 10, 1e-3, 0.5)
    cfg = TrainConfig(schedule="step", lr=0.1, step_size=4, lr_decay=0.3)
    assert make_lr_schedule(cfg) == StepLR(0.1, 4, 0.3)
    assert make_lr_schedule(TrainConfig(schedule="constant", lr=0.2)) == ConstantLR(0.2)
    cfg = TrainConfig(momentum=0.8, momentum_until=20, late_momentum=0.05)
    assert make_momentum_schedule(cfg) == MomentumSchedule(0.8, 20, 0.05)
