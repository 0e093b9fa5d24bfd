"""The IDX file format of MNIST-style datasets: reading a file (raw or gzipped) and
parsing its header and payload, with one-sentence errors for every kind of damage."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801


class DataError(Exception):
    """A user-caused data problem; the message is one sentence naming the file and the fix."""


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if its name ends in ``.gz``."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path} does not exist; check the path or put the file "
                        "there.") from None
    except (OSError, EOFError, zlib.error) as e:
        # gzip reports corruption as OSError (bad header/CRC), EOFError (truncated)
        # or zlib.error (bad deflate data).
        raise DataError(f"{path} could not be read ({e}); replace it with an intact copy.") from e


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """The uint8 array of an IDX file's bytes, shaped by its header's dims."""
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
            f"(0x{LABEL_MAGIC:08x} labels, 0x{IMAGE_MAGIC:08x} images); "
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


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an unsigned-byte IDX file (raw, or gzipped if the name ends in ``.gz``).

    Returns
    -------
    np.ndarray
        uint8 array shaped by the header's dims, e.g. ``(N, H, W)`` for images or
        ``(N,)`` for labels; a read-only view over the file's bytes (no extra copy).

    Raises
    ------
    DataError
        Unreadable file or corrupt gzip, bad magic number, truncated header or payload,
        or bytes beyond what the dims promise.
    """
    path = Path(path)
    return parse_idx(read_bytes(path), path)


__all__ = ["DataError", "IMAGE_MAGIC", "LABEL_MAGIC", "read_bytes", "parse_idx", "read_idx"]
