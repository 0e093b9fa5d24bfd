"""Command line: ``npcnn train [flags]``, ``npcnn bench [args]``, ``npcnn report [args]``
(also as ``python -m npcnn ...``).

The ``train`` flags are generated from ``TrainConfig``'s fields (``--kernel-size`` for
``kernel_size``; help text = the field's comment in config.py), so they map 1:1 onto the
config and cannot drift from it. Values are parsed as strings and validated by
``TrainConfig`` itself, before any data is read.

Every user error is ONE line on stderr, ``npcnn: error: ...``, never a traceback or a
usage dump. Exit codes: 0 success; 1 the run diverged; 2 a bad flag or value, a data
problem, or a run directory holding another configuration; 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import sys
import warnings
from typing import Any, NoReturn

from npcnn import datasets
from npcnn.config import PRESETS, ConfigError, TrainConfig, with_preset
from npcnn.text import one_line

PROG = "npcnn"
# Fields whose comment in config.py does not say what they are.
_HELP_FALLBACK = {
    "batch_size": "training mini-batch size",
    "epochs": "number of training epochs",
}


def flag(field_name: str) -> str:
    """``kernel_size`` -> ``--kernel-size``."""
    return "--" + field_name.replace("_", "-")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage dump) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {one_line(message)}\n")


# -- flags from TrainConfig -----------------------------------------------------------


def field_help() -> dict[str, str]:
    """Help text per field: the trailing comment of its line in ``TrainConfig``'s source."""
    try:
        source = inspect.getsource(TrainConfig)
    except (OSError, TypeError):  # no source (e.g. a zipped install): fall back to names
        source = ""
    comments = {}
    for m in re.finditer(r"^\s+(\w+)\s*:[^=\n]*=[^\n]*?\s#\s*(.+)$", source, re.MULTILINE):
        comments[m[1]] = m[2].strip()
    return {
        f.name: comments.get(f.name) or _HELP_FALLBACK.get(f.name, f.name.replace("_", " "))
        for f in dataclasses.fields(TrainConfig)
    }


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if value == "":
        return '""'
    return str(value)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    helps = field_help()
    group = parser.add_argument_group("hyperparameters (TrainConfig fields)")
    for f in dataclasses.fields(TrainConfig):
        default = getattr(defaults, f.name)
        # argparse %-formats help strings.
        text = f"{helps[f.name]} (default: {_show(default)})".replace("%", "%%")
        metavar = f.name.upper() if f.name != "hidden" else "W1,W2,..."
        if isinstance(default, bool):
            group.add_argument(flag(f.name), dest=f.name, default=None, help=text,
                               action=argparse.BooleanOptionalAction)
        else:
            # Strings, not typed: TrainConfig validates, so argparse and the notebooks
            # report bad values in the same words.
            group.add_argument(flag(f.name), dest=f.name, default=None, metavar=metavar,
                               help=text)


def build_parser() -> argparse.ArgumentParser:
    from npcnn import __version__

    parser = _Parser(
        prog=PROG,
        description="A from-scratch NumPy CNN on MNIST and Fashion-MNIST.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{train,bench,report}", required=True)
    train = sub.add_parser(
        "train",
        help="train a network (resumes an unfinished run in --out)",
        description="Train a network. Every TrainConfig field is a flag; a run directory "
        "(--out) gets history.json and checkpoint.npz after every epoch, and the same "
        "command resumes an interrupted run or returns a completed one.",
    )
    _add_config_flags(train)
    train.add_argument("--preset", default="", metavar="NAME",
                       help=f"start from a named network ({', '.join(PRESETS)}: "
                       "npcnn.config.BEST); the flags given win over it")
    run = train.add_argument_group("run")
    run.add_argument("--out", metavar="DIR", default=None,
                     help="run directory (default: <run store>/<config key>, the store "
                     "being $NPCNN_RUNS or runs/)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("bench", add_help=False,
                   help="time epochs and layers, npcnn beside PyTorch (npcnn bench --help)")
    sub.add_parser("report", add_help=False,
                   help="run every study and render the HTML report (npcnn report --help)")
    return parser


def config_from_args(ns: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of the given flags; ``ConfigError`` names the flag and value."""
    given = {
        f.name: getattr(ns, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(ns, f.name, None) is not None
    }
    try:
        if "hidden" in given:
            given["hidden"] = _parse_widths(given["hidden"])
        return TrainConfig.from_dict(with_preset(given, getattr(ns, "preset", "")))
    except ConfigError as err:
        raise ConfigError(_flag_message(str(err))) from None


def _parse_widths(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"hidden must be comma-separated integers such as 100,50, got {text!r}"
        ) from None


def _flag_message(message: str) -> str:
    """``kernel_size must be ...`` -> ``--kernel-size must be ...``."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return re.sub(r"^(\w+)", lambda m: flag(m[1]) if m[1] in names else m[1], message)


# -- commands -------------------------------------------------------------------------


def _fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    return code


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {one_line(str(message))}", file=sys.stderr)


def cmd_train(ns: argparse.Namespace) -> int:
    from npcnn.data import recognise

    try:
        given = config_from_args(ns)
    except ConfigError as err:
        return _fail(str(err))
    config = recognise(given, stated=ns.dataset is not None)
    if config.dataset != given.dataset:
        print(f"{PROG}: {config.data_dir} holds {datasets.get(config.dataset).title}: "
              f"training on it (--dataset {config.dataset})", file=sys.stderr)

    from npcnn.checkpoint import HISTORY
    from npcnn.data import DataError, check
    from npcnn.trainer import RunDirError, TrainingInterrupted, train

    if ns.out is not None:
        out = ns.out
    else:
        from npcnn.store import run_dir

        out = str(run_dir(config))
    try:
        if config.data_dir:  # checked even when the store answers: a wrong --data-dir is
            check(config.dataset, config.data_dir)  # a mistake to say, not to ignore
        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            result = train(config, out_dir=out, progress=not ns.no_progress)
    except (DataError, RunDirError) as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"could not write the run directory {out} ({err})", 1)
    except KeyboardInterrupt as exc:
        done = len(exc.result.epochs) if isinstance(exc, TrainingInterrupted) else 0
        print(f"{PROG}: interrupted after epoch {done}; run the same command again to resume",
              file=sys.stderr)
        return 130
    history = os.path.join(out, HISTORY)
    if result.status == "diverged":
        return _fail(
            f"the run diverged at epoch {len(result.epochs) + 1} (the loss became NaN or "
            f"infinite); lower the learning rate (--lr {config.lr:g}); history in {history}",
            1,
        )
    print(_summary(result, history))
    return 0


def _summary(result: Any, history: str) -> str:
    epochs = result.epochs
    best = max(epochs, key=lambda e: e["test_acc"])
    seconds = sum(e["seconds"] for e in epochs) / len(epochs)
    head = "already completed" if result.resumed_epochs == len(epochs) else "completed"
    return (
        f"{head}: {len(epochs)} epochs, final test acc {result.final_test_acc:.4f}, "
        f"best {result.best_test_acc:.4f} (epoch {best['epoch']}), {seconds:.1f} s/epoch\n"
        f"history: {history}"
    )


def cmd_bench(argv: list[str]) -> int:
    from npcnn import bench  # only when asked for: it may pull in optional dependencies

    return int(bench.main(argv) or 0)


def cmd_report(argv: list[str]) -> int:
    from npcnn.report import main as report_main

    return int(report_main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises SystemExit)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # bench and report parse their own arguments, --help included.
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    if argv[:1] == ["report"]:
        return cmd_report(argv[1:])
    try:
        ns = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return cmd_train(ns)


__all__ = ["main", "build_parser", "config_from_args", "field_help", "flag"]
