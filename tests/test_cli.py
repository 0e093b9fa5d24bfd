"""The command line: one-line errors with exit 2 before any work, --help, a tiny run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
from conftest import TINY

import npcnn.trainer as T
from npcnn.cli import flag, main
from npcnn.config import TrainConfig

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]
# "sha256": the checksum of the rest (npcnn.safeio), so a damaged file is detected.
HISTORY_KEYS = {"config", "status", "final_test_acc", "best_test_acc", "epochs", "iter_loss",
                "sha256"}


def assert_one_line_error(err: str, *needles: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("npcnn: error: "), err
    assert "Traceback" not in err and "usage:" not in err
    for needle in needles:
        assert needle in lines[0], (needle, err)
    return lines[0]


@pytest.fixture
def no_training(monkeypatch):
    """Any call of ``train`` (so any data loading or training) fails the test."""

    def train(*args, **kwargs):
        raise AssertionError("train() was called")

    monkeypatch.setattr(T, "train", train)


@pytest.fixture
def run_args(tiny_mnist, tmp_path):
    """Flags for a quick run on the synthetic files: 200 images, 1 epoch, 2 channels."""
    return ["train", "--data-dir", str(tiny_mnist), "--dataset", TINY, "--subset", "200",
            "--epochs", "1",
            "--channels", "2", "--out", str(tmp_path / "run"), "--no-progress"]


BAD_VALUES = [
    ("--lr", "-1"),
    ("--lr", "0"),
    ("--lr", "fast"),
    ("--batch-size", "0"),
    ("--batch-size", "2.5"),
    ("--epochs", "0"),
    ("--channels", "0"),
    ("--subset", "-5"),
    ("--kernel-size", "4"),
    ("--kernel-size", "0"),
    ("--momentum", "1"),
    ("--momentum", "-0.1"),
    ("--weight-decay", "-0.001"),
    ("--loss", "hinge"),
    ("--model", "rnn"),
    ("--schedule", "cosine"),
    ("--hidden", "100,x"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_bad_value_is_one_line_naming_flag_and_value(name, value, capsys, no_training):
    assert main(["train", name, value]) == 2
    out, err = capsys.readouterr()
    assert_one_line_error(err, name, value)
    assert out == ""


def test_unknown_flag_is_one_line(capsys, no_training):
    assert main(["train", "--learning-rate", "0.1"]) == 2
    assert_one_line_error(capsys.readouterr().err, "--learning-rate")


def test_missing_command_and_missing_value_are_one_line(capsys, no_training):
    assert main([]) == 2
    assert_one_line_error(capsys.readouterr().err)
    assert main(["train", "--lr"]) == 2
    assert_one_line_error(capsys.readouterr().err, "--lr")


def test_subprocess_bad_lr_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "npcnn", "train", "--lr", "-1"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert_one_line_error(proc.stderr, "--lr", "-1")
    assert proc.stdout == ""


def test_package_import_leaves_numpy_unloaded():
    # ``npcnn --help`` and a bad flag answer at once: NumPy loads with the first real work.
    code = "import sys, npcnn, npcnn.cli; assert 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_a_preset_starts_the_best_network_and_flags_win_over_it(capsys, no_training):
    from npcnn.cli import build_parser, config_from_args
    from npcnn.config import BEST

    ns = build_parser().parse_args(["train", "--preset", "best", "--lr", "0.02"])
    config = config_from_args(ns)
    assert (config.channels, config.init_std, config.lr) == (BEST["channels"],
                                                             BEST["init_std"], 0.02)
    assert main(["train", "--preset", "biggest"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "preset must be one of 'best'" in err


def test_help_lists_every_config_field_with_its_default(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for name in FIELDS:
        assert flag(name) in out, name
    assert out.count("(default:") >= len(FIELDS)
    assert "--out" in out and "--no-progress" in out


def test_missing_data_dir_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-mnist"
    code = main(["train", "--data-dir", str(missing), "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 2
    assert_one_line_error(capsys.readouterr().err, str(missing))
    assert not (tmp_path / "run").exists()  # nothing started


def test_bench_without_data_exits_2_before_measuring(tmp_path, capsys, monkeypatch):
    # The layer table takes tens of seconds; the missing data must stop the command
    # before it, in one sentence, not as a child process's traceback after it.
    import npcnn.bench as B

    missing = tmp_path / "no-such-mnist"
    monkeypatch.setenv("NPCNN_DATA", str(missing))
    monkeypatch.setattr(B, "layer_table", lambda **kw: pytest.fail("layers were timed"))
    assert main(["bench", "--no-torch", "--epochs", "1", "--channels", "4"]) == 2
    assert_one_line_error(capsys.readouterr().err, str(missing), "NPCNN_DATA")


def test_tiny_run_writes_history_and_reruns_as_completed(run_args, tmp_path, capsys):
    assert main(run_args) == 0
    out, err = capsys.readouterr()
    history_path = tmp_path / "run" / "history.json"
    assert str(history_path) in out and "final test acc" in out
    h = json.loads(history_path.read_text())
    assert set(h) == HISTORY_KEYS
    assert h["status"] == "completed" and len(h["epochs"]) == 1
    assert h["config"]["subset"] == 200 and h["config"]["channels"] == 2
    assert len(h["iter_loss"]) == 2  # 200 images in batches of 100
    assert 0 <= h["final_test_acc"] <= 1

    assert main(run_args) == 0  # same command: returned from the directory
    assert "already completed" in capsys.readouterr().out


def test_other_config_in_out_dir_exits_2(run_args, capsys):
    assert main(run_args) == 0
    capsys.readouterr()
    assert main([*run_args, "--lr", "0.02"]) == 2
    assert_one_line_error(capsys.readouterr().err, "another configuration", "--out")


def test_divergence_exits_1_with_one_line(run_args, capsys):
    assert main([*run_args, "--model", "mlp", "--lr", "1e6", "--loss", "euclidean"]) == 1
    line = assert_one_line_error(capsys.readouterr().err, "diverged at epoch 1")
    assert "learning rate" in line


def test_interrupt_exits_130_and_the_same_command_resumes(run_args, capsys, monkeypatch):
    args = [*run_args[:-1], "--epochs", "2", "--no-progress"]
    real = T.evaluate
    calls = {"n": 0}

    def evaluate(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:  # the validation pass of epoch 2
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(T, "evaluate", evaluate)
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.strip() == ("npcnn: interrupted after epoch 1; "
                           "run the same command again to resume")
    monkeypatch.undo()
    assert main(args) == 0
    assert "completed: 2 epochs" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["bench", "report"])
def test_bench_and_report_get_their_own_arguments(monkeypatch, command):
    seen = []
    target = "npcnn.bench.main" if command == "bench" else "npcnn.report.main"
    monkeypatch.setattr(target, lambda argv: seen.append(argv) or 0)
    assert main([command, "--epochs", "1", "--help"]) == 0
    assert seen == [["--epochs", "1", "--help"]]
