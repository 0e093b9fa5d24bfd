"""Loading a registered dataset (``npcnn.datasets``): finding its directory, checking its
files, downloading what is missing, parsing IDX, and the validation split.

Every file is checked against the dataset's SHA-256 when loaded: a directory holding
another registered dataset's files is refused in one sentence naming both, a damaged file
in one sentence saying what is wrong with it, a file of no registered dataset in one
sentence saying so. So a run's ``dataset`` is what it trained on, wherever its data came
from (``--data-dir``, a variable, a worker's own copy).

Every user-caused problem raises ``DataError`` with a one-sentence message naming the file
or directory, the problem, and what to do; the CLI prints it and exits 2.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from npcnn import datasets, paths
from npcnn.datasets import FILES, Dataset
from npcnn.idx import IMAGE_MAGIC, LABEL_MAGIC, DataError, parse_idx, read_bytes, read_idx

__all__ = ["DataError", "VAL_SIZE", "load", "check", "identify", "recognise", "digests",
           "read_idx",
           "split", "test_set", "train_images", "epoch_words"]

VAL_SIZE = 5000  # the last training images, held out: they drive the lr schedule
_TIMEOUT = 30.0  # seconds per socket operation, so an unreachable mirror fails fast

# Parsed arrays per (dataset, resolved directory), so sweeps in one process parse once.
# Value: (signature of the files used, (x_train, y_train, x_test, y_test)).
_CACHE: dict[tuple[str, Path], tuple[tuple, tuple[np.ndarray, ...]]] = {}
# SHA-256 of a file's decompressed bytes, by (path, size, mtime): each file hashed once.
_DIGESTS: dict[tuple[str, int, int], str] = {}


def _fix(ds: Dataset) -> str:
    return (f"put the four files ({', '.join(FILES)}, raw or .gz) there or point "
            f"{ds.env} / --data-dir at a directory holding {ds.title}")


# -- directories: finding, identifying, downloading -----------------------------------


def _find_files(directory: Path) -> tuple[list[Path], list[str]]:
    """Return (found paths in FILES order, missing names); raw wins over .gz."""
    found, missing = [], []
    for name in FILES:
        raw, gz = directory / name, directory / f"{name}.gz"
        # Raw first when both exist: it is the same data and skips decompression.
        if raw.is_file():
            found.append(raw)
        elif gz.is_file():
            found.append(gz)
        else:
            missing.append(name)
    return found, missing


def _files_in(directory: Path, what: str, ds: Dataset) -> list[Path]:
    """Paths of the four files in ``directory``, or DataError saying what is wrong."""
    if not directory.exists():
        raise DataError(f"{what} {directory} does not exist; {_fix(ds)}.")
    if not directory.is_dir():
        raise DataError(f"{what} {directory} is not a directory; {_fix(ds)}.")
    found, missing = _find_files(directory)
    if not found and not any(directory.iterdir()):
        raise DataError(f"{what} {directory} is empty; {_fix(ds)}.")
    if missing:
        raise DataError(
            f"{what} {directory} lacks {', '.join(missing)} (raw or .gz); add the missing "
            f"files or point {ds.env} / --data-dir at a complete directory."
        )
    return found


def _digest(path: Path, data: bytes | None = None) -> str:
    """SHA-256 of the file's decompressed bytes (``data`` if already read)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(read_bytes(path) if data is None else data).hexdigest()
    return _DIGESTS[key]


def digests(directory: str | os.PathLike) -> dict[str, str]:
    """``{file name: SHA-256 of its decompressed bytes}`` for the files of ``FILES`` that
    ``directory`` holds (raw or .gz)."""
    found, _ = _find_files(Path(directory))
    return {p.name.removesuffix(".gz"): _digest(p) for p in found}


def identify(directory: str | os.PathLike) -> Dataset | None:
    """The registered dataset whose four files ``directory`` holds, or None (files
    missing, unreadable, damaged or of no registered dataset)."""
    try:
        have = digests(directory)
    except (DataError, OSError):
        return None
    for ds in datasets.REGISTRY.values():
        if all(have.get(name) == ds.sha256_of(name) for name in FILES):
            return ds
    return None


def recognise(config: Any, stated: bool) -> Any:
    """``config`` (a ``TrainConfig``) on the dataset its ``data_dir`` holds, when its
    dataset was not ``stated`` (no ``--dataset`` flag or ``dataset`` parameter):
    ``--data-dir`` pointing at Fashion-MNIST's files trains on Fashion-MNIST, stored as
    such, never answered by an MNIST run. Unchanged when the directory holds no
    registered dataset: the load then says what is wrong with its files."""
    if stated or not config.data_dir:
        return config
    found = identify(config.data_dir)
    if found is None or found.name == config.dataset:
        return config
    return config.replace(dataset=found.name)


def _owner(name: str, digest: str) -> Dataset | None:
    """The registered dataset whose file ``name`` has this digest."""
    return next((d for d in datasets.REGISTRY.values() if d.sha256_of(name) == digest), None)


def _fetch(ds: Dataset, name: str, directory: Path) -> Path:
    """Download ``name``.gz with pooch from the first mirror whose file verifies (the MD5
    of the .gz the mirrors serve); pooch writes it atomically into ``directory``."""
    import pooch

    pooch.get_logger().setLevel("WARNING")  # the line below says what is downloaded
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"could not create {directory} ({e}); make its parent writable or "
                        f"point {ds.env} / --data-dir at a directory holding {ds.title}.") \
            from e
    errors = []
    for mirror in ds.mirrors:
        url = f"{mirror}{name}.gz"
        print(f"npcnn: downloading {url}", file=sys.stderr)
        # An explicit User-Agent: some mirrors refuse a library's default one.
        downloader = pooch.HTTPDownloader(progressbar=False, timeout=_TIMEOUT,
                                          headers={"User-Agent": "npcnn"})
        try:
            pooch.retrieve(url, known_hash=f"md5:{ds.md5_gz_of(name)}", fname=f"{name}.gz",
                           path=directory, downloader=downloader, progressbar=False)
        except ValueError:  # pooch: the file's MD5 is not the registry's
            errors.append(f"{url}: MD5 mismatch")
            continue
        except OSError as e:  # requests' errors are OSErrors: unreachable, refused, 404
            status = getattr(getattr(e, "response", None), "status_code", None)
            errors.append(f"{url}: {type(e).__name__}" + (f" {status}" if status else ""))
            continue
        return directory / f"{name}.gz"
    raise DataError(
        f"could not download {ds.title} ({name}.gz failed on every mirror, last error "
        f"{errors[-1]}); put the four files ({', '.join(FILES)}) in {directory} or point "
        f"{ds.env} / --data-dir at a directory holding them."
    )


def _resolve(ds: Dataset, data_dir: str | os.PathLike | None) -> list[Path]:
    """The four file paths to load, following the documented resolution order."""
    if data_dir is not None and os.fspath(data_dir) != "":
        return _files_in(Path(data_dir).expanduser(), "data directory", ds)
    if paths.data_from_env(ds.name):
        return _files_in(paths.data_dir(ds.name), f"data directory (from ${ds.env})", ds)
    directory = paths.data_dir(ds.name)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{directory} exists but is not a directory; remove it or "
                        f"{_fix(ds)}.")
    missing = _find_files(directory)[1] if directory.is_dir() else list(FILES)
    for name in missing:
        _fetch(ds, name, directory)
    return _files_in(directory, "data directory", ds)


# -- loading --------------------------------------------------------------------------


def _check_pair(ds: Dataset, images: np.ndarray, images_path: Path, labels: np.ndarray,
                labels_path: Path) -> None:
    """The shapes and labels a dataset's images/labels pair must have."""
    if images.ndim != 3:
        raise DataError(
            f"{images_path} has magic number 0x{0x800 + images.ndim:08x} ({images.ndim}-d), "
            f"but an image file needs 0x{IMAGE_MAGIC:08x}; check it is an images file."
        )
    n, rows, cols = images.shape
    _, h, w = ds.image_shape
    if (rows, cols) != (h, w):
        raise DataError(
            f"{images_path} holds {rows}x{cols} images, but {ds.title} has {h}x{w}; use "
            f"a dataset of {h}x{w} images."
        )
    if n == 0:
        raise DataError(f"{images_path} holds no images; replace it with an intact copy.")
    if labels.ndim != 1:
        raise DataError(
            f"{labels_path} has magic number 0x{0x800 + labels.ndim:08x} ({labels.ndim}-d), "
            f"but a label file needs 0x{LABEL_MAGIC:08x}; check it is a labels file."
        )
    if len(labels) != n:
        raise DataError(
            f"{labels_path} holds {len(labels)} labels but {images_path.name} holds {n} "
            "images; use files from the same dataset."
        )
    bad = np.flatnonzero(labels >= ds.n_classes)
    if bad.size:
        raise DataError(
            f"{labels_path} holds label {labels[bad[0]]} at index {bad[0]} "
            f"({bad.size} labels outside 0..{ds.n_classes - 1}); use a "
            f"{ds.n_classes}-class dataset."
        )


def _parse_all(ds: Dataset, files: list[Path], blobs: list[bytes]) -> tuple[np.ndarray, ...]:
    """x_train (N, C, H, W) float32 in [0, 1], y_train (N,) int64, x_test, y_test."""
    arrays = [parse_idx(b, p) for b, p in zip(blobs, files, strict=True)]
    out = []
    for i in (0, 2):
        images, labels = arrays[i], arrays[i + 1]
        _check_pair(ds, images, files[i], labels, files[i + 1])
        # One float32 allocation straight from uint8: no float64 intermediate.
        x = np.divide(images.reshape(len(images), *ds.image_shape), np.float32(255),
                      dtype=np.float32)
        out += [x, labels.astype(np.int64)]
    return tuple(out)


def _verify(ds: Dataset, files: list[Path], blobs: list[bytes], what: str) -> None:
    """DataError unless every file is the dataset's own (its SHA-256)."""
    wrong = [(p, _digest(p, b)) for p, b in zip(files, blobs, strict=True)
             if _digest(p, b) != ds.sha256_of(p.name.removesuffix(".gz"))]
    if not wrong:
        return
    for path, digest in wrong:
        owner = _owner(path.name.removesuffix(".gz"), digest)
        if owner is not None:
            raise DataError(
                f"{what} {path.parent} holds {owner.title} ({path.name} is "
                f"{owner.title}'s), not {ds.title}; pass --dataset {owner.name} (the "
                f"dataset parameter) to train on it, or point {ds.env} / --data-dir at "
                f"{ds.title}'s files."
            )
    _parse_all(ds, files, blobs)  # a damaged file: the sentence saying what is wrong
    path, digest = wrong[0]
    raise DataError(
        f"{path} is not {ds.title}'s {path.name.removesuffix('.gz')}: its SHA-256 begins "
        f"{digest[:12]} and matches no registered dataset; replace it with {ds.title}'s "
        "file, or register its dataset in npcnn.datasets."
    )


def load(dataset: str = datasets.DEFAULT, data_dir: str | os.PathLike | None = None,
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the full train and test sets of a registered dataset, checked.

    Parameters
    ----------
    dataset
        A registered name (``npcnn.datasets``): "mnist", "fashion", ...
    data_dir
        Directory holding the four files (raw or ``.gz``); used as is, never downloaded
        into. ``None`` or ``""``: the dataset's variable if set (same rules), else the
        checkout's ``data/<id>`` or the user cache (``npcnn.paths.data_dir``),
        downloading whatever files it lacks from the dataset's mirrors.

    Returns
    -------
    x_train : (n_train, C, H, W) float32 in [0, 1], the dataset's ``image_shape``
    y_train : (n_train,) int64 in 0 .. n_classes-1
    x_test : (n_test, C, H, W) float32
    y_test : (n_test,) int64

    The arrays are cached per dataset and directory and shared between calls, so they are
    read-only: copy before modifying (fancy indexing such as ``x[idx]`` already copies).

    Raises
    ------
    DataError
        Missing, damaged or foreign files (another dataset's, or none's), in one sentence.
    """
    ds = datasets.get(dataset)
    files = _resolve(ds, data_dir)
    key = (ds.name, files[0].parent.resolve())
    # File sizes and mtimes in the key: replaced files are checked again, not served stale.
    signature = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    _CACHE.pop(key, None)  # drop a stale entry before allocating the new arrays
    blobs = [read_bytes(p) for p in files]
    explicit = data_dir is not None and os.fspath(data_dir) != ""
    _verify(ds, files, blobs, "data directory" if explicit or not paths.data_from_env(
        ds.name) else f"data directory (from ${ds.env})")
    arrays = _parse_all(ds, files, blobs)
    for a in arrays:
        a.flags.writeable = False
    _CACHE[key] = (signature, arrays)
    return arrays


def check(dataset: str = datasets.DEFAULT, data_dir: str | os.PathLike | None = None) -> Path:
    """Find, download if needed, check and parse the dataset's files once; their directory.

    What a command that needs the data calls before starting work, so that a missing,
    empty, damaged or foreign directory stops it with ``DataError``'s one sentence.
    """
    ds = datasets.get(dataset)
    load(ds.name, data_dir)
    return _resolve(ds, data_dir)[0].parent


def test_set(dataset: str = datasets.DEFAULT, data_dir: str | os.PathLike | None = None,
             ) -> tuple[np.ndarray, np.ndarray]:
    """The test images ``(N, C, H, W)`` and labels ``(N,)`` of ``dataset`` (see ``load``)."""
    _, _, x, y = load(dataset, data_dir or None)
    return x, y


def train_images(subset: int = 0, dataset: str = datasets.DEFAULT) -> int:
    """Images one epoch trains on: ``subset``, or all the training images left after the
    validation hold-out when it is 0."""
    return subset or datasets.get(dataset).n_train - VAL_SIZE


def epoch_words(dataset: str = datasets.DEFAULT) -> str:
    """What one full epoch does, in words: it also evaluates validation and test images."""
    ds = datasets.get(dataset)
    return f"train {ds.n_train - VAL_SIZE:,} + evaluate {VAL_SIZE + ds.n_test:,} images"


def split(
    x_train: np.ndarray, y_train: np.ndarray, subset: int = 0, val_size: int = VAL_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out the LAST ``val_size`` training images as validation.

    Validation drives the lr schedule, so the test set is never used for decisions.

    Parameters
    ----------
    x_train : (N, C, H, W) float32
    y_train : (N,) int64
    subset
        Keep only the first ``subset`` of the remaining ``N - val_size`` images; 0 = all.
    val_size
        Number of validation images, ``0 <= val_size < N``.

    Returns
    -------
    x_tr : (subset or N - val_size, C, H, W), y_tr, x_val : (val_size, C, H, W), y_val
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
