"""Tests for npcnn.data and npcnn.idx: IDX parsing, corruption checks, a dataset's
identity (its SHA-256s), the resolution order, downloads through pooch, the split.

Almost everything runs on tiny synthetic IDX files in tmp_path, each directory registered
as a dataset of its own (one registry entry, as a third dataset would be). Downloads are
served by a real HTTP server on 127.0.0.1 started by the test; nothing else touches the
network. The last tests read the real MNIST and Fashion-MNIST, from $NPCNN_DATA and
$NPCNN_DATA_FASHION, and skip without them.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import dataset_entry

from npcnn import data, datasets, paths
from npcnn.config import TrainConfig
from npcnn.data import DataError, load, read_idx, split
from npcnn.datasets import FILES

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = FILES

# Read before the autouse fixture clears them for every test.
_REAL = {name: os.environ.get(datasets.get(name).env, "") for name in ("mnist", "fashion")}


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
    return {TRAIN_IMAGES: idx_bytes(xtr), TRAIN_LABELS: idx_bytes(ytr),
            TEST_IMAGES: idx_bytes(xte), TEST_LABELS: idx_bytes(yte)}


def write_dataset(directory: Path, files: dict[str, bytes], gz: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in files.items():
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (directory / name).write_bytes(payload)
    return directory


def register(monkeypatch, name: str, files: dict[str, bytes], **kw) -> datasets.Dataset:
    """Register the dataset of ``files`` for this test only."""
    ds = dataset_entry(name, files, **kw)
    monkeypatch.setitem(datasets.REGISTRY, name, ds)
    return ds


def assert_one_sentence(message: str, *needles: str) -> None:
    assert "\n" not in message and message.endswith("."), message
    assert ". " not in message, f"more than one sentence: {message}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test runs in an empty cwd that plays the checkout (its data/<id> is the
    default directory of every dataset), with no dataset variable set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "checkout", lambda: tmp_path)
    for ds in list(datasets.REGISTRY.values()):
        monkeypatch.delenv(ds.env, raising=False)


@pytest.fixture
def syn(monkeypatch):
    """A registered synthetic dataset ("syn") and its files' bytes."""
    files = dataset_files(seed=0)
    return register(monkeypatch, "syn", files, n_train=7, n_test=3), files


@pytest.fixture
def no_download(monkeypatch):
    def fail(ds, name, directory):
        pytest.fail(f"download of {name} attempted into {directory}")

    monkeypatch.setattr(data, "_fetch", fail)


class Mirrors:
    """An HTTP server on 127.0.0.1 serving ``files`` (``{url path: bytes}``) and logging
    every request's path; a path it lacks gets 404."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.calls: list[str] = []
        mirrors = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server calls)
                mirrors.calls.append(self.path)
                body = mirrors.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(monkeypatch):
    """A synthetic dataset ("dl") whose two mirrors (/m0/, /m1/) both serve its files
    gzipped, registered with their MD5s: ``(dataset, raw files, gz files, mirrors)``."""
    files = dataset_files(seed=5)
    gz = {k: gzip.compress(v) for k, v in files.items()}
    mirrors = Mirrors()
    for m in ("m0", "m1"):
        for k, v in gz.items():
            mirrors.files[f"/{m}/{k}.gz"] = v
    ds = register(monkeypatch, "dl", files, n_train=7, n_test=3,
                  md5_gz=[hashlib.md5(gz[f]).hexdigest() for f in FILES],
                  mirrors=[f"{mirrors.url}/m0/", f"{mirrors.url}/m1/"])
    yield ds, files, gz, mirrors
    mirrors.close()


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


# -- loading a registered dataset ------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_load_round_trip(tmp_path, no_download, syn, gz):
    ds, files = syn
    directory = write_dataset(tmp_path / "ds", files, gz=gz)
    x_tr, y_tr, x_te, y_te = load("syn", str(directory))
    assert x_tr.shape == (7, 1, 28, 28) and x_te.shape == (3, 1, 28, 28)
    assert x_tr.dtype == x_te.dtype == np.float32
    assert y_tr.dtype == y_te.dtype == np.int64
    for x, y, (u8, labels) in ((x_tr, y_tr, synthetic(7, 0)), (x_te, y_te, synthetic(3, 1))):
        # Exact: float32 division of small integers by 255 is correctly rounded either way.
        np.testing.assert_array_equal(x[:, 0], u8.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(y, labels)
    assert x_tr.min() == 0.0 and x_tr.max() == 1.0


def test_load_accepts_path_and_mixed_raw_gz(tmp_path, no_download, syn):
    _, files = syn
    directory = tmp_path / "mixed"
    write_dataset(directory, {k: files[k] for k in FILES[:2]}, gz=True)
    write_dataset(directory, {k: files[k] for k in FILES[2:]}, gz=False)
    x_tr, y_tr, x_te, y_te = load("syn", directory)
    assert len(x_tr) == 7 and len(x_te) == 3


def test_raw_preferred_when_both_raw_and_gz_exist(tmp_path, no_download, syn):
    _, files = syn
    directory = write_dataset(tmp_path / "both", files, gz=False)
    write_dataset(directory, dataset_files(seed=4, n_train=9), gz=True)  # other data
    assert len(load("syn", directory)[0]) == 7  # 7 = the raw files' count, 9 = the .gz


def test_another_datasets_files_are_refused_naming_both(tmp_path, no_download, syn,
                                                        monkeypatch):
    other = dataset_files(seed=8)
    register(monkeypatch, "other", other)
    directory = write_dataset(tmp_path / "ds", other)
    with pytest.raises(DataError) as e:
        load("syn", directory)
    assert_one_sentence(str(e.value), str(directory), "holds the other set", "not the syn set",
                        "--dataset other")
    assert data.identify(directory).name == "other"
    # A config that did not state its dataset is recognised as the other one's.
    given = TrainConfig(data_dir=str(directory))
    assert data.recognise(given, stated=False).dataset == "other"
    assert data.recognise(given, stated=True) == given  # stated: the load refuses it


def test_files_of_no_registered_dataset_are_refused(tmp_path, no_download, syn):
    directory = write_dataset(tmp_path / "ds", dataset_files(seed=9))
    with pytest.raises(DataError) as e:
        load("syn", directory)
    assert_one_sentence(str(e.value), TRAIN_IMAGES, "is not the syn set's",
                        "matches no registered dataset")
    assert data.identify(directory) is None
    assert data.recognise(TrainConfig(data_dir=str(directory)), stated=False).dataset == \
        "mnist"


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
def test_corrupt_file_raises_dataerror_naming_it(tmp_path, no_download, syn, case):
    _, files = syn
    name, content, gz, part = CORRUPTIONS[case]
    directory = write_dataset(tmp_path / "ds", files)
    (directory / name).unlink()
    if content is not None:
        if gz is None:  # content is already (broken) gzip bytes
            (directory / f"{name}.gz").write_bytes(content)
        else:
            (directory / name).write_bytes(content)
    with pytest.raises(DataError) as e:
        load("syn", directory)
    assert_one_sentence(str(e.value), name, part)


def test_empty_dir(tmp_path, no_download):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as e:
        load("mnist", tmp_path / "empty")
    assert_one_sentence(str(e.value), str(tmp_path / "empty"), "empty", "NPCNN_DATA")


def test_missing_dir(tmp_path, no_download):
    with pytest.raises(DataError) as e:
        load("fashion", str(tmp_path / "nope"))
    assert_one_sentence(str(e.value), str(tmp_path / "nope"), "does not exist", "--data-dir",
                        "NPCNN_DATA_FASHION", "Fashion-MNIST")


def test_dir_is_a_file(tmp_path, no_download):
    (tmp_path / "afile").write_bytes(b"x")
    with pytest.raises(DataError) as e:
        load("mnist", tmp_path / "afile")
    assert_one_sentence(str(e.value), "afile", "not a directory")


def test_incomplete_dir_lists_all_missing_files(tmp_path, no_download, syn):
    _, files = syn
    directory = write_dataset(tmp_path / "ds", {TRAIN_IMAGES: files[TRAIN_IMAGES]})
    with pytest.raises(DataError) as e:
        load("syn", directory)
    assert_one_sentence(str(e.value), TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
    assert f"{TRAIN_IMAGES}," not in str(e.value)  # present, so not listed as missing


def test_unknown_dataset_names_the_registered_ones():
    with pytest.raises(datasets.UnknownDataset, match="'mnist', 'fashion'"):
        load("kmnist")


# -- resolution order -----------------------------------------------------------------


def test_explicit_dir_never_downloads_even_when_default_is_missing(tmp_path, no_download):
    with pytest.raises(DataError):
        load("mnist", tmp_path / "missing")
    assert not (tmp_path / "data").exists()


def test_env_dir_is_used_as_is_and_never_downloads(tmp_path, monkeypatch, no_download):
    monkeypatch.setenv("NPCNN_DATA", str(tmp_path / "env-missing"))
    with pytest.raises(DataError) as e:
        load()
    assert_one_sentence(str(e.value), "env-missing", "NPCNN_DATA")
    monkeypatch.setenv("NPCNN_DATA_FASHION", str(tmp_path / "f-missing"))
    with pytest.raises(DataError) as e:
        load("fashion")
    assert_one_sentence(str(e.value), "f-missing", "$NPCNN_DATA_FASHION")


def test_resolution_order(tmp_path, monkeypatch, no_download, syn):
    ds, files = syn
    for d in ("envdir", "explicit", f"data/{ds.id}"):
        write_dataset(tmp_path / d, files, gz=d.startswith("data"))
    monkeypatch.setenv(ds.env, str(tmp_path / "envdir"))
    assert data.check("syn", tmp_path / "explicit") == tmp_path / "explicit"  # beats the env
    assert data.check("syn") == tmp_path / "envdir"  # the variable beats data/<id>
    assert data.check("syn", "") == tmp_path / "envdir"  # "" means "not given", like None
    monkeypatch.setenv(ds.env, "")  # empty counts as unset
    assert data.check("syn") == tmp_path / "data" / ds.id  # then the checkout's data/<id>
    monkeypatch.chdir(tmp_path / "explicit")
    assert data.check("syn") == tmp_path / "data" / ds.id  # from any working directory
    assert paths.data_dir("fashion") == tmp_path / "data" / "fashion-mnist"


def test_no_dir_anywhere_downloads_into_default(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(data, "_fetch", lambda ds, name, directory: calls.append((
        ds.name, name, directory)))
    with pytest.raises(DataError):  # the stub fetched nothing, so the load itself fails
        load("fashion")
    assert calls == [("fashion", n, tmp_path / "data" / "fashion-mnist") for n in FILES]


# -- download (pooch, from a server on 127.0.0.1) --------------------------------------


def test_download_verifies_and_caches(tmp_path, served):
    ds, files, gz, mirrors = served
    x_tr, y_tr, x_te, y_te = load("dl")
    target = tmp_path / "data" / ds.id
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{n}.gz" for n in FILES)
    for name, payload in files.items():
        assert gzip.decompress((target / f"{name}.gz").read_bytes()) == payload
    np.testing.assert_array_equal(y_te, read_idx(target / f"{TEST_LABELS}.gz"))
    assert mirrors.calls == [f"/m0/{n}.gz" for n in FILES]
    mirrors.calls.clear()
    data._CACHE.clear()
    load("dl")  # a second load finds the files and downloads nothing
    assert mirrors.calls == []


def test_download_only_fetches_missing_files(tmp_path, served):
    ds, files, gz, mirrors = served
    write_dataset(tmp_path / "data" / ds.id, {TRAIN_IMAGES: files[TRAIN_IMAGES]})
    load("dl")
    assert mirrors.calls == [f"/m0/{n}.gz" for n in FILES[1:]]


def test_a_wrong_file_tries_the_next_mirror(tmp_path, served):
    ds, files, gz, mirrors = served
    # Mirror 0 serves the wrong train images (a different, well-formed file); mirror 1
    # serves the right one.
    mirrors.files[f"/m0/{TRAIN_IMAGES}.gz"] = gzip.compress(dataset_files(99)[TRAIN_IMAGES])
    load("dl")
    assert f"/m1/{TRAIN_IMAGES}.gz" in mirrors.calls
    written = gzip.decompress((tmp_path / "data" / ds.id / f"{TRAIN_IMAGES}.gz").read_bytes())
    assert written == files[TRAIN_IMAGES]


def test_a_wrong_file_on_every_mirror_is_rejected_and_not_kept(tmp_path, served):
    ds, files, gz, mirrors = served
    wrong = gzip.compress(dataset_files(99)[TRAIN_IMAGES])
    for m in ("m0", "m1"):
        mirrors.files[f"/{m}/{TRAIN_IMAGES}.gz"] = wrong
    with pytest.raises(DataError) as e:
        load("dl")
    assert_one_sentence(str(e.value), f"{TRAIN_IMAGES}.gz", "MD5 mismatch", "NPCNN_DATA_DL")
    assert not list((tmp_path / "data" / ds.id).iterdir())  # nothing half-written kept


def test_offline_is_one_sentence(tmp_path, served):
    ds, files, gz, mirrors = served
    mirrors.close()  # nothing listens: every mirror refuses the connection
    with pytest.raises(DataError) as e:
        load("dl")
    assert_one_sentence(str(e.value), "could not download the dl set", *FILES, "--data-dir")


def test_an_unwritable_cache_is_one_sentence(tmp_path, served):
    (tmp_path / "data").write_text("a file where the directory should be")
    with pytest.raises(DataError) as e:
        load("dl")
    assert_one_sentence(str(e.value), "could not create", "dl")


# -- cache ----------------------------------------------------------------------------


def test_cache_returns_same_read_only_arrays_and_sees_replaced_files(tmp_path, no_download,
                                                                    syn, monkeypatch):
    _, files = syn
    directory = write_dataset(tmp_path / "ds", files)
    first = load("syn", directory)
    second = load("syn", str(directory) + "/")  # same directory, spelled differently
    assert all(a is b for a, b in zip(first, second, strict=True))
    with pytest.raises(ValueError):
        first[0][0, 0, 0, 0] = 0.5  # shared between callers, so it must not be writable
    longer = dataset_files(seed=0, n_train=8)
    register(monkeypatch, "syn", longer)
    write_dataset(directory, longer)
    assert len(load("syn", directory)[0]) == 8  # the new files, checked again


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


# -- real MNIST and Fashion-MNIST -----------------------------------------------------


def real(name: str, monkeypatch) -> None:
    path = _REAL[name]
    if not path or not Path(path).is_dir():
        pytest.skip(f"set {datasets.get(name).env} to the real {datasets.get(name).title}")
    monkeypatch.setenv(datasets.get(name).env, path)


def test_real_mnist(monkeypatch, no_download):
    real("mnist", monkeypatch)
    x_tr, y_tr, x_te, y_te = load()
    assert x_tr.shape == (60000, 1, 28, 28) and x_te.shape == (10000, 1, 28, 28)
    assert x_tr.dtype == x_te.dtype == np.float32 and y_tr.dtype == y_te.dtype == np.int64
    for x in (x_tr, x_te):
        assert x.min() == 0.0 and x.max() == 1.0
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(y_tr, minlength=10).tolist() == train_counts
    assert np.bincount(y_te, minlength=10).tolist() == test_counts
    assert split(x_tr, y_tr)[0].shape == (55000, 1, 28, 28)
    assert data.identify(_REAL["mnist"]) is datasets.MNIST


def test_real_fashion_and_each_refused_as_the_other(monkeypatch, no_download):
    real("fashion", monkeypatch)
    x_tr, y_tr, x_te, y_te = load("fashion")
    assert x_tr.shape == (60000, 1, 28, 28) and x_te.shape == (10000, 1, 28, 28)
    assert np.bincount(y_tr).tolist() == [6000] * 10  # Fashion-MNIST is balanced
    assert np.bincount(y_te).tolist() == [1000] * 10
    assert data.identify(_REAL["fashion"]) is datasets.FASHION
    with pytest.raises(DataError) as e:
        load("mnist", _REAL["fashion"])
    assert_one_sentence(str(e.value), "holds Fashion-MNIST", "not MNIST", "--dataset fashion")
    if _REAL["mnist"]:
        with pytest.raises(DataError) as e:
            load("fashion", _REAL["mnist"])
        assert_one_sentence(str(e.value), "holds MNIST", "not Fashion-MNIST")
