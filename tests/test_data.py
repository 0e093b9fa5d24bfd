"""Tests for npcnn.data: IDX parsing, corruption checks, resolution order, download, split.

Almost everything runs on tiny synthetic IDX files in tmp_path; only the last test reads
the real MNIST, from $NPCNN_DATA, and skips without it. No test touches the network: an
autouse fixture makes urlopen fail unless a test installs its own fake.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from npcnn import data, paths
from npcnn.data import MNIST_FILES, DataError, load_mnist, read_idx, split

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = MNIST_FILES

# Read before the autouse fixture clears it for every test.
_REAL_DIR = os.environ.get("NPCNN_DATA", "")


# -- helpers --------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    """IDX encoding of a uint8 array: magic 0x000008<ndim>, big-endian dims, payload."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x800 + arr.ndim
    return struct.pack(f">I{arr.ndim}I", magic, *arr.shape) + arr.tobytes()


def synthetic(n: int, seed: int, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, side, side) uint8 covering 0 and 255, labels (n,) uint8 in 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, side, side), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


def dataset_files(seed: int = 0, n_train: int = 7, n_test: int = 3) -> dict[str, bytes]:
    """Raw bytes of the four files of a tiny MNIST-format dataset."""
    xtr, ytr = synthetic(n_train, seed)
    xte, yte = synthetic(n_test, seed + 1)
    return {
        TRAIN_IMAGES: idx_bytes(xtr),
        TRAIN_LABELS: idx_bytes(ytr),
        TEST_IMAGES: idx_bytes(xte),
        TEST_LABELS: idx_bytes(yte),
    }


def write_dataset(directory: Path, files: dict[str, bytes], gz: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in files.items():
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (directory / name).write_bytes(payload)
    return directory


def assert_one_sentence(message: str, *needles: str) -> None:
    assert "\n" not in message and message.endswith("."), message
    assert ". " not in message, f"more than one sentence: {message}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


class FakeUrlopen:
    """Serves ``urls[url]`` bytes; a missing URL raises URLError like an offline host."""

    def __init__(self, urls: dict[str, bytes]):
        self.urls = urls
        self.calls: list[str] = []

    def __call__(self, request, timeout=None):
        assert timeout is not None, "downloads must use a timeout"
        url = getattr(request, "full_url", request)
        self.calls.append(url)
        if url not in self.urls:
            raise urllib.error.URLError("offline")
        return io.BytesIO(self.urls[url])


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test runs in an empty cwd that plays the checkout (its data/mnist is the
    default directory), without $NPCNN_DATA, and with the network off."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "checkout", lambda: tmp_path)
    monkeypatch.delenv("NPCNN_DATA", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", FakeUrlopen({}))


@pytest.fixture
def no_download(monkeypatch):
    def fail(name, directory):
        pytest.fail(f"download of {name} attempted into {directory}")

    monkeypatch.setattr(data, "_fetch", fail)


@pytest.fixture
def served(monkeypatch):
    """Synthetic MNIST served gzipped by the first mirror, with checksums that match it."""
    files = dataset_files(seed=5)
    monkeypatch.setattr(
        data, "_SHA256", {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
    )
    fake = FakeUrlopen({f"{data.MIRRORS[0]}{k}.gz": gzip.compress(v) for k, v in files.items()})
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return files, fake


# -- read_idx -------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_any_dims(tmp_path, gz):
    arr = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    labels = np.array([3, 0, 9], dtype=np.uint8)
    for name, a in (("img", arr), ("lbl", labels)):
        payload = idx_bytes(a)
        path = tmp_path / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(payload) if gz else payload)
        out = read_idx(path)
        assert out.dtype == np.uint8 and out.shape == a.shape
        np.testing.assert_array_equal(out, a)


def test_read_idx_missing_file_names_it(tmp_path):
    with pytest.raises(DataError) as e:
        read_idx(tmp_path / "nothere-idx1-ubyte")
    assert_one_sentence(str(e.value), "nothere-idx1-ubyte", "does not exist")


# -- load_mnist on synthetic directories ----------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_round_trip(tmp_path, no_download, gz):
    directory = write_dataset(tmp_path / "ds", dataset_files(seed=1), gz=gz)
    x_tr, y_tr, x_te, y_te = load_mnist(str(directory))
    assert x_tr.shape == (7, 1, 28, 28) and x_te.shape == (3, 1, 28, 28)
    assert x_tr.dtype == x_te.dtype == np.float32
    assert y_tr.dtype == y_te.dtype == np.int64
    for x, y, (u8, labels) in ((x_tr, y_tr, synthetic(7, 1)), (x_te, y_te, synthetic(3, 2))):
        # Exact: float32 division of small integers by 255 is correctly rounded either way.
        np.testing.assert_array_equal(x[:, 0], u8.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(y, labels)
    assert x_tr.min() == 0.0 and x_tr.max() == 1.0


def test_load_accepts_path_and_mixed_raw_gz(tmp_path, no_download):
    files = dataset_files(seed=2)
    directory = tmp_path / "mixed"
    write_dataset(directory, {k: files[k] for k in MNIST_FILES[:2]}, gz=True)
    write_dataset(directory, {k: files[k] for k in MNIST_FILES[2:]}, gz=False)
    x_tr, y_tr, x_te, y_te = load_mnist(directory)
    assert len(x_tr) == 7 and len(x_te) == 3


def test_raw_preferred_when_both_raw_and_gz_exist(tmp_path, no_download):
    directory = write_dataset(tmp_path / "both", dataset_files(seed=3), gz=False)
    write_dataset(directory, dataset_files(seed=4, n_train=9), gz=True)
    assert len(load_mnist(directory)[0]) == 7  # 7 = the raw files' count, 9 = the .gz


def _corrupt_gzip(payload: bytes) -> bytes:
    gz = bytearray(gzip.compress(payload))
    gz[len(gz) // 2] ^= 0xFF  # inside the deflate stream -> zlib.error or CRC failure
    return bytes(gz)


def _images(n=7, side=28):
    return synthetic(n, 0, side)[0]


# (file to replace, its new content (None = delete), gzip the replacement?, message part)
CORRUPTIONS = {
    "bad magic": (TRAIN_IMAGES, struct.pack(">I", 0x12345678) + bytes(100), False, "0x12345678"),
    "labels magic on images": (TRAIN_IMAGES, idx_bytes(np.zeros(7, np.uint8)), False, "0x00000803"),
    "images magic on labels": (TRAIN_LABELS, idx_bytes(_images()), False, "0x00000801"),
    "too short": (TEST_LABELS, b"\x00\x00", False, "too short"),
    "truncated header": (TRAIN_IMAGES, struct.pack(">II", 0x803, 7), False, "header"),
    "truncated payload": (TRAIN_IMAGES, idx_bytes(_images())[:-1], False, "truncated"),
    "extra bytes": (TEST_IMAGES, idx_bytes(_images(3)) + b"\x00", False, "1 extra bytes"),
    "count mismatch": (TRAIN_LABELS, idx_bytes(np.zeros(6, np.uint8)), False, "6 labels"),
    "wrong dims": (TEST_IMAGES, idx_bytes(_images(3, side=27)), False, "27x27"),
    "no images": (TEST_IMAGES, idx_bytes(np.zeros((0, 28, 28), np.uint8)), False, "no images"),
    "label out of range": (TEST_LABELS, idx_bytes(np.array([1, 10, 2], np.uint8)), False, "10"),
    "gzip not gzip": (TRAIN_LABELS, b"this is not gzip data", None, "could not be read"),
    "gzip truncated": (TRAIN_IMAGES, gzip.compress(idx_bytes(_images()))[:-30], None, "read"),
    "gzip corrupt stream": (TRAIN_IMAGES, _corrupt_gzip(idx_bytes(_images())), None, "read"),
    "gzip bad crc": (TEST_LABELS, gzip.compress(bytes(11))[:-8] + bytes(8), None, "read"),
    "missing file": (TEST_LABELS, None, False, "lacks"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corrupt_file_raises_dataerror_naming_it(tmp_path, no_download, case):
    name, content, gz, part = CORRUPTIONS[case]
    directory = write_dataset(tmp_path / "ds", dataset_files(seed=0, n_train=7, n_test=3))
    (directory / name).unlink()
    if content is not None:
        if gz is None:  # content is already (broken) gzip bytes
            (directory / f"{name}.gz").write_bytes(content)
        else:
            (directory / name).write_bytes(content)
    with pytest.raises(DataError) as e:
        load_mnist(directory)
    assert_one_sentence(str(e.value), name, part)


def test_empty_dir(tmp_path, no_download):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path / "empty")
    assert_one_sentence(str(e.value), str(tmp_path / "empty"), "empty")


def test_missing_dir(tmp_path, no_download):
    with pytest.raises(DataError) as e:
        load_mnist(str(tmp_path / "nope"))
    assert_one_sentence(str(e.value), str(tmp_path / "nope"), "does not exist", "--data-dir")


def test_dir_is_a_file(tmp_path, no_download):
    (tmp_path / "afile").write_bytes(b"x")
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path / "afile")
    assert_one_sentence(str(e.value), "afile", "not a directory")


def test_incomplete_dir_lists_all_missing_files(tmp_path, no_download):
    files = dataset_files()
    directory = write_dataset(tmp_path / "ds", {TRAIN_IMAGES: files[TRAIN_IMAGES]})
    with pytest.raises(DataError) as e:
        load_mnist(directory)
    assert_one_sentence(str(e.value), TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
    assert f"{TRAIN_IMAGES}," not in str(e.value)  # present, so not listed as missing


# -- resolution order -----------------------------------------------------------------


def test_explicit_dir_never_downloads_even_when_default_is_missing(tmp_path, no_download):
    # cwd has no ./data/mnist, the situation in which load_mnist() would download
    with pytest.raises(DataError):
        load_mnist(tmp_path / "missing")
    assert not (tmp_path / "data").exists()


def test_env_dir_is_used_as_is_and_never_downloads(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("NPCNN_DATA", str(tmp_path / "env-missing"))
    with pytest.raises(DataError) as e:
        load_mnist()
    assert_one_sentence(str(e.value), "env-missing", "NPCNN_DATA")


def test_resolution_order(tmp_path, monkeypatch, no_download):
    write_dataset(tmp_path / "envdir", dataset_files(seed=1, n_train=4))
    write_dataset(tmp_path / "data" / "mnist", dataset_files(seed=2, n_train=5), gz=True)
    write_dataset(tmp_path / "explicit", dataset_files(seed=3, n_train=6))
    monkeypatch.setenv("NPCNN_DATA", str(tmp_path / "envdir"))
    assert len(load_mnist(tmp_path / "explicit")[0]) == 6  # explicit beats $NPCNN_DATA
    assert len(load_mnist()[0]) == 4  # $NPCNN_DATA beats ./data/mnist
    assert len(load_mnist("")[0]) == 4  # "" means "not given", like None
    monkeypatch.setenv("NPCNN_DATA", "")  # empty counts as unset
    assert len(load_mnist()[0]) == 5  # then the checkout's data/mnist
    monkeypatch.chdir(tmp_path / "explicit")
    assert len(load_mnist()[0]) == 5  # from any working directory


def test_no_dir_anywhere_downloads_into_default(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "_fetch", lambda name, directory: calls.append((name, directory)))
    with pytest.raises(DataError):  # the stub fetched nothing, so the load itself fails
        load_mnist()
    assert [c[0] for c in calls] == list(MNIST_FILES)
    assert all(c[1] == tmp_path / "data" / "mnist" for c in calls)


# -- download -------------------------------------------------------------------------


def test_download_writes_verified_gz_atomically(tmp_path, monkeypatch, served):
    files, fake = served
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        src, dst = Path(src).resolve(), Path(dst).resolve()
        assert src.parent == dst.parent, "temp file must be in the target dir for atomicity"
        assert not dst.exists(), "the final name must appear only via os.replace"
        replaced.append(dst.name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    x_tr, y_tr, x_te, y_te = load_mnist()
    target = tmp_path / "data" / "mnist"
    assert sorted(replaced) == sorted(f"{n}.gz" for n in MNIST_FILES)
    assert sorted(p.name for p in target.iterdir()) == sorted(replaced)  # no temp leftovers
    for name, payload in files.items():
        assert gzip.decompress((target / f"{name}.gz").read_bytes()) == payload
    np.testing.assert_array_equal(y_te, read_idx(target / f"{TEST_LABELS}.gz"))
    # A second call finds the files and does not download again.
    fake.calls.clear()
    load_mnist()
    assert fake.calls == []


def test_download_only_fetches_missing_files(tmp_path, served):
    files, fake = served
    write_dataset(tmp_path / "data" / "mnist", {TRAIN_IMAGES: files[TRAIN_IMAGES]})
    load_mnist()
    assert [u.rsplit("/", 1)[1] for u in fake.calls] == [f"{n}.gz" for n in MNIST_FILES[1:]]


def test_checksum_mismatch_tries_next_mirror(tmp_path, served):
    files, fake = served
    # Mirror 0 serves the wrong train images (a different, well-formed file); mirror 1
    # serves the right one.
    wrong = gzip.compress(dataset_files(seed=99)[TRAIN_IMAGES])
    fake.urls[f"{data.MIRRORS[0]}{TRAIN_IMAGES}.gz"] = wrong
    fake.urls[f"{data.MIRRORS[1]}{TRAIN_IMAGES}.gz"] = gzip.compress(files[TRAIN_IMAGES])
    load_mnist()
    assert f"{data.MIRRORS[1]}{TRAIN_IMAGES}.gz" in fake.calls
    written = gzip.decompress((tmp_path / "data" / "mnist" / f"{TRAIN_IMAGES}.gz").read_bytes())
    assert written == files[TRAIN_IMAGES]


def test_checksum_mismatch_on_every_mirror_is_rejected(tmp_path, served):
    files, fake = served
    wrong = gzip.compress(dataset_files(seed=99)[TRAIN_IMAGES])
    for mirror in data.MIRRORS:
        fake.urls[f"{mirror}{TRAIN_IMAGES}.gz"] = wrong
    with pytest.raises(DataError) as e:
        load_mnist()
    assert_one_sentence(str(e.value), f"{TRAIN_IMAGES}.gz", "SHA-256 mismatch")
    assert not (tmp_path / "data" / "mnist" / f"{TRAIN_IMAGES}.gz").exists()
    assert len([u for u in fake.calls if TRAIN_IMAGES in u]) == len(data.MIRRORS)


def test_offline_is_one_sentence_dataerror(tmp_path):
    # The autouse fixture's urlopen raises URLError for every URL, as when offline.
    with pytest.raises(DataError) as e:
        load_mnist()
    assert_one_sentence(
        str(e.value), "could not download MNIST", *MNIST_FILES, "NPCNN_DATA", "--data-dir"
    )
    assert urllib.request.urlopen.calls == [f"{m}{TRAIN_IMAGES}.gz" for m in data.MIRRORS]
    assert not (tmp_path / "data").exists()  # offline leaves no empty directories behind


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch, served):
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(DataError) as e:
        load_mnist()
    assert_one_sentence(str(e.value), f"{TRAIN_IMAGES}.gz", "disk full")
    assert list((tmp_path / "data" / "mnist").iterdir()) == []


# -- cache ----------------------------------------------------------------------------


def test_cache_returns_same_read_only_arrays_and_sees_replaced_files(tmp_path, no_download):
    directory = write_dataset(tmp_path / "ds", dataset_files(seed=1, n_train=7))
    first = load_mnist(directory)
    second = load_mnist(str(directory) + "/")  # same directory, spelled differently
    assert all(a is b for a, b in zip(first, second, strict=True))
    with pytest.raises(ValueError):
        first[0][0, 0, 0, 0] = 0.5  # shared between callers, so it must not be writable
    write_dataset(directory, dataset_files(seed=1, n_train=8))
    assert len(load_mnist(directory)[0]) == 8


# -- split ----------------------------------------------------------------------------


def _xy(n):
    x = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1) * np.ones((1, 1, 28, 28), np.float32)
    return x, np.arange(n, dtype=np.int64)


def test_split_holds_out_the_last_images():
    x, y = _xy(20)
    x_tr, y_tr, x_val, y_val = split(x, y, val_size=5)
    assert x_tr.shape == (15, 1, 28, 28) and x_val.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(y_tr, np.arange(15))
    np.testing.assert_array_equal(y_val, np.arange(15, 20))
    np.testing.assert_array_equal(x_val[:, 0, 0, 0], np.arange(15, 20))
    assert np.shares_memory(x_tr, x) and np.shares_memory(x_val, x)  # views, no copies


def test_split_subset_takes_first_n_and_keeps_validation():
    x, y = _xy(20)
    x_tr, y_tr, x_val, y_val = split(x, y, subset=4, val_size=5)
    np.testing.assert_array_equal(y_tr, np.arange(4))
    np.testing.assert_array_equal(y_val, np.arange(15, 20))  # unaffected by subset
    assert len(split(x, y, subset=15, val_size=5)[0]) == 15  # exactly all is allowed


def test_split_zero_val_size_keeps_everything_for_training():
    x, y = _xy(6)
    x_tr, y_tr, x_val, y_val = split(x, y, val_size=0)
    assert len(x_tr) == 6 and len(x_val) == 0 and len(y_val) == 0


def test_split_defaults_match_mnist_layout():
    x, y = np.zeros((60000, 1, 1, 1), np.float32), np.zeros(60000, np.int64)
    x_tr, _, x_val, _ = split(x, y)
    assert len(x_tr) == 55000 and len(x_val) == 5000


def test_split_rejects_too_large_subset_and_val_size():
    x, y = _xy(20)
    with pytest.raises(DataError) as e:
        split(x, y, subset=16, val_size=5)
    assert_one_sentence(str(e.value), "subset 16", "15")
    with pytest.raises(DataError):
        split(x, y, val_size=20)
    with pytest.raises(ValueError):
        split(x, y[:-1])


# -- real MNIST -----------------------------------------------------------------------


def test_real_mnist(monkeypatch, no_download):
    if not _REAL_DIR or not Path(_REAL_DIR).is_dir():
        pytest.skip("set NPCNN_DATA to a directory holding real MNIST")
    monkeypatch.setenv("NPCNN_DATA", _REAL_DIR)
    x_tr, y_tr, x_te, y_te = load_mnist()
    assert x_tr.shape == (60000, 1, 28, 28) and x_te.shape == (10000, 1, 28, 28)
    assert x_tr.dtype == x_te.dtype == np.float32 and y_tr.dtype == y_te.dtype == np.int64
    for x in (x_tr, x_te):
        assert x.min() == 0.0 and x.max() == 1.0
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(y_tr, minlength=10).tolist() == train_counts
    assert np.bincount(y_te, minlength=10).tolist() == test_counts
    assert split(x_tr, y_tr)[0].shape == (55000, 1, 28, 28)
