"""Loaded at start-up by every Python process whose PYTHONPATH holds this directory (the
fault tests start sweeps that way): appends each INFO line of the ``npcnn.store`` logger,
"training run <key> after epoch <n> (pid <pid>)", to the file named by
``$NPCNN_TEST_TRAIN_LOG``, so a test can count who trained what across the worker
processes of a sweep. Production code knows nothing of it."""

import logging
import os

_path = os.environ.get("NPCNN_TEST_TRAIN_LOG", "")
if _path:
    _handler = logging.FileHandler(_path, mode="a")
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _logger = logging.getLogger("npcnn.store")
    _logger.addHandler(_handler)
    _logger.setLevel(logging.INFO)
