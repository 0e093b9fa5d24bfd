"""The datasets npcnn trains on: one registry entry each, data rather than code.

An entry says everything npcnn needs to know of a dataset in MNIST's IDX format: its
name (the value of ``TrainConfig.dataset``), title and class names; the four files, the
SHA-256 of their decompressed bytes (what ``npcnn.data`` checks on every load, so a
directory holding another dataset is never taken for this one) and the mirrors that
serve them gzipped, with the MD5 of those ``.gz`` files (what ``pooch`` checks on a
download); the shape of one image and the sizes of the sets; and the numbers of the
claim rules that depend on the dataset (``converged_acc``). A third dataset is one more
entry here, or ``register(Dataset(...))`` at run time (a test does it with a synthetic
one).

Where a dataset's directory is found (``npcnn.paths.data_dir``): ``--data-dir`` /
``TrainConfig.data_dir`` if given; else the variable ``env`` names (``$NPCNN_DATA`` for
MNIST, ``$NPCNN_DATA_FASHION`` for Fashion-MNIST); else the checkout's ``data/<id>``;
else the user cache's ``npcnn/<id>``, downloaded into on first use.

Nothing here imports the rest of npcnn: the config validates its ``dataset`` field
against this registry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# The four files of an IDX dataset, as MNIST named them; every entry uses these names.
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


class UnknownDataset(ValueError):
    """A dataset name that is not registered; the message lists the registered ones."""


@dataclass(frozen=True)
class Dataset:
    """One registry entry.

    Attributes:
        name: the ``TrainConfig.dataset`` value, e.g. "fashion".
        id: its directory under ``data/`` and the cache, and its name in ``report.json``,
            e.g. "fashion-mnist".
        title: how pages name it, e.g. "Fashion-MNIST".
        classes: the class names, label 0 first.
        sha256: the SHA-256 of each file's decompressed bytes, in ``FILES`` order.
        md5_gz: the MD5 of each file as the mirrors serve it gzipped (``<name>.gz``).
        mirrors: base URLs serving ``<name>.gz``, tried in order.
        image_shape: one image, (C, H, W).
        n_train, n_test: images in the training and the test file.
        converged_acc: the test accuracy that counts as converged ("reached 0.98").
        converged_why: how ``converged_acc`` was chosen, for the pages.
        env: the environment variable naming the dataset's directory.
        notes: one line for the pages (source, licence).
    """

    name: str
    id: str
    title: str
    classes: tuple[str, ...]
    sha256: tuple[str, str, str, str]
    md5_gz: tuple[str, str, str, str]
    mirrors: tuple[str, ...]
    converged_acc: float
    converged_why: str
    image_shape: tuple[int, int, int] = (1, 28, 28)
    n_train: int = 60_000
    n_test: int = 10_000
    env: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        # JSON (a run sent to a worker) turns tuples into lists: back to tuples, so that
        # an entry equals itself after the trip.
        for f in ("classes", "sha256", "md5_gz", "mirrors", "image_shape"):
            object.__setattr__(self, f, tuple(getattr(self, f)))
        if not self.env:
            object.__setattr__(self, "env", f"NPCNN_DATA_{self.name.upper()}")
        if len(self.sha256) != len(FILES) or len(self.md5_gz) != len(FILES):
            raise ValueError(f"dataset {self.name!r} needs one sha256 and one md5_gz per "
                             f"file of {FILES}")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def chance_acc(self) -> float:
        """Accuracy of guessing one class for every image (balanced classes)."""
        return 1.0 / self.n_classes

    def sha256_of(self, file: str) -> str:
        return self.sha256[FILES.index(file)]

    def md5_gz_of(self, file: str) -> str:
        return self.md5_gz[FILES.index(file)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what travels with a run to a worker process or machine."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dataset:
        return cls(**d)


def checksums(text: str) -> dict[str, tuple[str, ...]]:
    """``sha256`` and ``md5_gz`` of an entry from its checksum lines: per file, in
    ``FILES`` order, the SHA-256 of its decompressed bytes on one line, then the MD5 of
    its ``.gz`` and its name on the next."""
    words = text.split()
    sha, md5, names = words[0::3], words[1::3], words[2::3]
    if tuple(names) != FILES:
        raise ValueError(f"checksum lines must name {FILES} in order, got {names}")
    return {"sha256": tuple(sha), "md5_gz": tuple(md5)}


MNIST = Dataset(
    name="mnist", id="mnist", title="MNIST", classes=tuple(str(d) for d in range(10)),
    # the decompressed IDX files' SHA-256, then the MD5 of the .gz the mirrors serve
    **checksums(f"""
        ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
        f68b3c2dcbeaaa9fbdd348bbdeb94873  {TRAIN_IMAGES}
        65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
        d53e105ee54ea40749a09fcbcd1e9432  {TRAIN_LABELS}
        0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
        9fb629c4189551a2d022fa330f9573f3  {TEST_IMAGES}
        ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
        ec29112dd5afa0611ce80d1b7f02629c  {TEST_LABELS}
    """),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    converged_acc=0.98,
    converged_why="the original's own milestone (\"above 0.98 in under 5 epochs\")",
    env="NPCNN_DATA", notes="handwritten digits 0-9, LeCun, Cortes and Burges",
)

FASHION = Dataset(
    name="fashion", id="fashion-mnist", title="Fashion-MNIST",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
             "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
             "data/fashion/"),
    **checksums(f"""
        c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
        8d4fb7e6c68d591d4c3dfef9ec88bf0d  {TRAIN_IMAGES}
        bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
        25c81989df183df01b3e8a0aad5dffbe  {TRAIN_LABELS}
        5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
        bef4ecab320f06d8554ea6380940ec79  {TEST_IMAGES}
        0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
        bb300cfdad3c16e7a12a480ee83cd310  {TEST_LABELS}
    """),
    # Chosen as MNIST's 0.98 relates to MNIST: 0.98 allows an error of 2.00%, 1.17 times
    # the 1.71% the default network ends with after 100 epochs (the headline's mean over
    # seeds 0-2: 0.9827, 0.9834, 0.9826). The same factor on Fashion-MNIST's default
    # network (0.8803, 0.8825, 0.8896 after 100 epochs: 11.59% error) allows 13.55%, an
    # accuracy of 0.8645: 0.86, rounded to two decimals as 0.98 is.
    converged_acc=0.86,
    converged_why="what MNIST's 0.98 allows relative to the default network's final "
                  "error after 100 epochs (1.17 times it), applied to Fashion-MNIST's",
    env="NPCNN_DATA_FASHION",
    notes="Zalando's clothing images, 10 classes, MIT licence",
)

REGISTRY: dict[str, Dataset] = {d.name: d for d in (MNIST, FASHION)}
DEFAULT = MNIST.name


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> Dataset:
    """The registered dataset ``name``; ``UnknownDataset`` listing the others."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownDataset(f"dataset must be one of {', '.join(map(repr, REGISTRY))}, "
                             f"got {name!r}") from None


def register(dataset: Dataset) -> Dataset:
    """Add ``dataset`` to the registry (again: a no-op when the entry is the same).

    Raises
    ------
    ValueError
        Another entry has the same name or id.
    """
    for other in REGISTRY.values():
        if other == dataset:
            return other
        if dataset.name == other.name or dataset.id == other.id:
            raise ValueError(f"a different dataset is registered as {other.name!r} "
                             f"(id {other.id!r})")
    REGISTRY[dataset.name] = dataset
    return dataset


def ensure(spec: dict[str, Any]) -> Dataset:
    """The dataset a run carries (``Dataset.to_dict``), registered in this process if it
    is not yet: a worker process or machine learns of a dataset registered at run time.

    Raises
    ------
    ValueError
        This process registers a different dataset under that name.
    """
    return register(Dataset.from_dict(spec))


def by_id(id_: str) -> Dataset | None:
    """The registered dataset of this ``id`` (as ``report.json`` names it), or None."""
    return next((d for d in REGISTRY.values() if d.id == id_), None)


__all__ = ["FILES", "TRAIN_IMAGES", "TRAIN_LABELS", "TEST_IMAGES", "TEST_LABELS", "Dataset",
           "UnknownDataset", "MNIST", "FASHION", "REGISTRY", "DEFAULT", "names", "get",
           "register", "ensure", "by_id", "checksums"]
