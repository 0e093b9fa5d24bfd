"""MNIST loading: IDX parsing, directory resolution, verified download, train/val split.

Any dataset in MNIST's IDX format (e.g. Fashion-MNIST) loads from a directory holding the
four standard file names, raw or gzipped. Local files are checked structurally only, never
against MNIST's checksums; downloaded files are checked against MNIST's SHA-256 values.

Every user-caused problem raises ``DataError`` with a one-sentence message naming the file
or directory, the problem, and what to do; the CLI prints it and exits 2.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import struct
import sys
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from npcnn import paths

__all__ = ["DataError", "MIRRORS", "MNIST_FILES", "VAL_SIZE", "N_TRAIN", "N_TEST",
           "EPOCH_WORDS", "load_mnist",
           "check_mnist", "read_idx", "split", "test_set", "train_images"]

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
MNIST_FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
VAL_SIZE = 5000  # the last training images, held out: they drive the lr schedule
# Images a full epoch trains on: MNIST's 60,000 minus the validation hold-out.
N_TRAIN = 60_000 - VAL_SIZE
N_TEST = 10_000
# What one epoch does, in words: every epoch also evaluates validation and test images.
EPOCH_WORDS = f"train {N_TRAIN:,} + evaluate {VAL_SIZE + N_TEST:,} images"

# Mirrors serve "<name>.gz"; tried in order, the next one on any failure.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# SHA-256 of the DECOMPRESSED files: mirrors may recompress, the IDX bytes are invariant.
_SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_TIMEOUT = 30.0  # seconds per socket operation, so an unreachable mirror fails fast
_IMAGE_MAGIC = 0x00000803
_LABEL_MAGIC = 0x00000801
_SIDE = 28

# Parsed arrays per resolved directory, so sweeps in one process parse MNIST once.
# Value: (signature of the files used, (x_train, y_train, x_test, y_test)).
_CACHE: dict[Path, tuple[tuple, tuple[np.ndarray, ...]]] = {}

_ALL_NAMES = ", ".join(MNIST_FILES)
_FIX = (
    f"put the four files ({_ALL_NAMES}, raw or .gz) there "
    "or point NPCNN_DATA / --data-dir at a directory holding them"
)


class DataError(Exception):
    """A user-caused data problem; the message is one sentence naming the file and the fix."""


# -- IDX parsing ----------------------------------------------------------------------


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an unsigned-byte IDX file (raw, or gzipped if the name ends in ``.gz``).

    Returns
    -------
    np.ndarray
        uint8 array shaped by the header's dims, e.g. ``(N, 28, 28)`` for images or
        ``(N,)`` for labels; a read-only view over the file's bytes (no extra copy).

    Raises
    ------
    DataError
        Unreadable file or corrupt gzip, bad magic number, truncated header or payload,
        or bytes beyond what the dims promise.
    """
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; check the path or {_FIX}.") from None
    except (OSError, EOFError, zlib.error) as e:
        # gzip reports corruption as OSError (bad header/CRC), EOFError (truncated)
        # or zlib.error (bad deflate data).
        raise DataError(f"{path} could not be read ({e}); replace it with an intact copy.") from e

    if len(data) < 4:
        raise DataError(
            f"{path} is only {len(data)} bytes, too short for an IDX header; "
            "replace it with an intact copy."
        )
    magic = int.from_bytes(data[:4], "big")
    ndim = data[3]
    # Only the unsigned-byte type (0x08) is supported: it is what MNIST-style sets use.
    if data[:3] != b"\x00\x00\x08" or ndim == 0:
        raise DataError(
            f"{path} has magic number 0x{magic:08x}, not an unsigned-byte IDX file "
            f"(0x{_LABEL_MAGIC:08x} labels, 0x{_IMAGE_MAGIC:08x} images); "
            "replace it with an IDX file."
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path} is truncated inside its header ({len(data)} of {header} bytes); "
            "replace it with an intact copy."
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    payload = len(data) - header
    if payload < expected:
        raise DataError(
            f"{path} is truncated: dims {dims} need {expected} data bytes but it holds "
            f"{payload}; replace it with an intact copy."
        )
    if payload > expected:
        raise DataError(
            f"{path} has {payload - expected} extra bytes after the {expected} its dims "
            f"{dims} describe; replace it with an intact copy."
        )
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(dims)


# -- directory resolution and download ------------------------------------------------


def _find_files(directory: Path) -> tuple[list[Path], list[str]]:
    """Return (found paths in MNIST_FILES order, missing names); raw wins over .gz."""
    found, missing = [], []
    for name in MNIST_FILES:
        raw, gz = directory / name, directory / f"{name}.gz"
        # Raw first when both exist: it is the same data and skips decompression.
        if raw.is_file():
            found.append(raw)
        elif gz.is_file():
            found.append(gz)
        else:
            missing.append(name)
    return found, missing


def _files_in(directory: Path, what: str) -> list[Path]:
    """Paths of the four files in ``directory``, or DataError saying what is wrong."""
    if not directory.exists():
        raise DataError(f"{what} {directory} does not exist; {_FIX}.")
    if not directory.is_dir():
        raise DataError(f"{what} {directory} is not a directory; {_FIX}.")
    found, missing = _find_files(directory)
    if not found and not any(directory.iterdir()):
        raise DataError(f"{what} {directory} is empty; {_FIX}.")
    if missing:
        raise DataError(
            f"{what} {directory} lacks {', '.join(missing)} (raw or .gz); "
            "add the missing files or point NPCNN_DATA / --data-dir at a complete directory."
        )
    return found


def _fetch(name: str, directory: Path) -> Path:
    """Download ``name``.gz from the first mirror whose decompressed bytes verify.

    Written atomically (temp file in ``directory`` + ``os.replace``) so an interrupted
    download never leaves a partial file that later looks like data.
    """
    errors = []
    for mirror in MIRRORS:
        url = f"{mirror}{name}.gz"
        print(f"npcnn: downloading {url}", file=sys.stderr)
        try:
            # An explicit User-Agent: some mirrors refuse urllib's default one.
            request = urllib.request.Request(url, headers={"User-Agent": "npcnn"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                compressed = response.read()
            digest = hashlib.sha256(gzip.decompress(compressed)).hexdigest()
        except (OSError, EOFError, zlib.error, http.client.HTTPException, ValueError) as e:
            errors.append(f"{url}: {e}")
            continue
        if digest != _SHA256[name]:
            errors.append(f"{url}: SHA-256 mismatch")
            continue
        return _write_atomic(directory / f"{name}.gz", compressed)
    raise DataError(
        f"could not download MNIST ({name}.gz failed on every mirror, last error {errors[-1]}); "
        f"put the four files ({_ALL_NAMES}) in {directory} or point NPCNN_DATA / --data-dir "
        "at a directory holding them."
    )


def _write_atomic(dest: Path, payload: bytes) -> Path:
    from npcnn.safeio import atomic_write

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, payload)
    except OSError as e:
        raise DataError(
            f"could not write {dest} ({e}); make {dest.parent} writable or point "
            "NPCNN_DATA / --data-dir at a directory holding the MNIST files."
        ) from e
    return dest


def _resolve(data_dir: str | os.PathLike | None) -> list[Path]:
    """The four file paths to load, following the documented resolution order."""
    if data_dir is not None and os.fspath(data_dir) != "":
        return _files_in(Path(data_dir).expanduser(), "data directory")
    if paths.data_from_env():
        return _files_in(paths.data_dir(), "data directory (from $NPCNN_DATA)")
    directory = paths.data_dir()
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{directory} exists but is not a directory; remove it or {_FIX}.")
    missing = _find_files(directory)[1] if directory.is_dir() else list(MNIST_FILES)
    for name in missing:
        _fetch(name, directory)
    return _files_in(directory, "data directory")


# -- public loading -------------------------------------------------------------------


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse and check one images/labels pair -> x: (N, 1, 28, 28) float32, y: (N,) int64."""
    images = read_idx(images_path)
    if images.ndim != 3:
        raise DataError(
            f"{images_path} has magic number 0x{0x800 + images.ndim:08x} ({images.ndim}-d), "
            f"but an image file needs 0x{_IMAGE_MAGIC:08x}; check it is an images file."
        )
    n, rows, cols = images.shape
    if (rows, cols) != (_SIDE, _SIDE):
        raise DataError(
            f"{images_path} holds {rows}x{cols} images, but the network needs "
            f"{_SIDE}x{_SIDE}; use a dataset of 28x28 images."
        )
    if n == 0:
        raise DataError(f"{images_path} holds no images; replace it with an intact copy.")
    labels = read_idx(labels_path)
    if labels.ndim != 1:
        raise DataError(
            f"{labels_path} has magic number 0x{0x800 + labels.ndim:08x} ({labels.ndim}-d), "
            f"but a label file needs 0x{_LABEL_MAGIC:08x}; check it is a labels file."
        )
    if len(labels) != n:
        raise DataError(
            f"{labels_path} holds {len(labels)} labels but {images_path.name} holds {n} "
            "images; use files from the same dataset."
        )
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataError(
            f"{labels_path} holds label {labels[bad[0]]} at index {bad[0]} "
            f"({bad.size} labels outside 0..9); use a 10-class dataset."
        )
    # One float32 allocation straight from uint8: no float64 intermediate.
    x = np.divide(images.reshape(n, 1, rows, cols), np.float32(255), dtype=np.float32)
    return x, labels.astype(np.int64)


def load_mnist(
    data_dir: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the full MNIST-format train and test sets.

    Parameters
    ----------
    data_dir
        Directory holding the four files (raw or ``.gz``); used as is, never downloaded
        into. ``None`` or ``""``: ``$NPCNN_DATA`` if set (same rules), else the
        checkout's ``data/mnist`` or the user cache (``npcnn.paths.data_dir``),
        downloading whatever files it lacks from ``MIRRORS``.

    Returns
    -------
    x_train : (60000, 1, 28, 28) float32 in [0, 1]
    y_train : (60000,) int64 in 0..9
    x_test : (10000, 1, 28, 28) float32 in [0, 1]
    y_test : (10000,) int64 in 0..9

    The arrays are cached per directory and shared between calls, so they are read-only:
    copy before modifying (fancy indexing such as ``x[idx]`` already copies).
    """
    paths = _resolve(data_dir)
    key = paths[0].parent.resolve()
    # File sizes and mtimes in the key: replaced files are reparsed, not served stale.
    signature = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    _CACHE.pop(key, None)  # drop a stale entry before allocating the new arrays
    arrays = (*_load_pair(paths[0], paths[1]), *_load_pair(paths[2], paths[3]))
    for a in arrays:
        a.flags.writeable = False
    _CACHE[key] = (signature, arrays)
    return arrays


def check_mnist(data_dir: str | os.PathLike | None = None) -> Path:
    """Find, download if needed, and parse the MNIST files once; their directory.

    What a command that needs MNIST calls before starting work, so that a missing,
    empty or corrupt directory stops it with ``DataError``'s one sentence.
    """
    paths_ = _resolve(data_dir)
    load_mnist(data_dir)
    return paths_[0].parent


def test_set(data_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test images ``(N, 1, 28, 28)`` and labels ``(N,)`` (see ``load_mnist``)."""
    _, _, x, y = load_mnist(data_dir or None)
    return x, y


def train_images(subset: int = 0) -> int:
    """Images one epoch trains on: ``subset``, or all ``N_TRAIN`` when it is 0."""
    return subset or N_TRAIN


def split(
    x_train: np.ndarray, y_train: np.ndarray, subset: int = 0, val_size: int = VAL_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out the LAST ``val_size`` training images as validation.

    Validation drives the lr schedule, so the test set is never used for decisions.

    Parameters
    ----------
    x_train : (N, 1, 28, 28) float32
    y_train : (N,) int64
    subset
        Keep only the first ``subset`` of the remaining ``N - val_size`` images; 0 = all.
    val_size
        Number of validation images, ``0 <= val_size < N``.

    Returns
    -------
    x_tr : (subset or N - val_size, 1, 28, 28), y_tr, x_val : (val_size, 1, 28, 28), y_val
        Views of the inputs, not copies.
    """
    n = len(x_train)
    if len(y_train) != n:
        raise ValueError(f"x_train has {n} images but y_train has {len(y_train)} labels")
    if subset < 0:
        raise ValueError(f"subset must be >= 0, got {subset}")
    if not 0 <= val_size < n:
        raise DataError(
            f"cannot hold out {val_size} validation images from {n} training images; "
            f"use a val_size between 0 and {n - 1}."
        )
    available = n - val_size
    if subset > available:
        raise DataError(
            f"subset {subset} exceeds the {available} training images left after holding out "
            f"{val_size} for validation; use a subset of at most {available} (0 = all)."
        )
    n_tr = subset if subset else available
    return x_train[:n_tr], y_train[:n_tr], x_train[available:], y_train[available:]
