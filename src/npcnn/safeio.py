"""Files that survive kills and say when they are damaged.

* ``atomic_write``: temp file in the same directory, fsync, rename, fsync of the
  directory. A reader sees the old file or the new one, never a torn one, whenever the
  writer is killed (SIGINT, SIGKILL, power loss after the rename returned).
* ``dumps_checked`` / ``loads_checked``: JSON with a ``"sha256"`` key holding the digest
  of the rest of the object, so a truncated or altered ``history.json`` is detected
  rather than half read.
* ``arrays_digest``: the digest ``checkpoint.npz`` stores under ``"sha256"`` (see
  ``npcnn.checkpoint``).

Every damaged file raises ``CorruptFile`` (a ``ValueError``) with a message of one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from npcnn.text import one_line

DIGEST_KEY = "sha256"


class CorruptFile(ValueError):
    """A file that does not parse or whose checksum does not match its payload."""


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any] | bytes) -> None:
    """Replace ``path`` by what ``write(f)`` writes to a binary file (or by the bytes).

    Written to a temp file beside ``path``, fsynced and renamed over it (``os.replace``
    is atomic within a file system); the directory is fsynced too so the rename itself
    survives a crash. A failure or kill mid-write leaves the previous file intact and at
    worst a ``.<name>.*.tmp`` file, which ``remove_temp_files`` cleans up. The file gets
    the mode a plain ``open`` would give it (0666 less the umask): the temp file's
    private 0600 must not survive the rename, or a web server could not serve a report.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            if isinstance(write, (bytes, bytearray)):
                f.write(write)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (changing it
    for a moment, as the portable way does, races with other threads creating files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    # Not every platform or file system can open a directory for fsync: best effort.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_temp_files(directory: str | os.PathLike) -> None:
    """Delete the temp files a killed ``atomic_write`` left in ``directory``.

    Only safe while no other process writes there (the run store calls it under the
    run's lock).
    """
    for p in Path(directory).glob(".*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats as None, recursively: strict JSON has no NaN, and a
    notebook's JSON output would turn one into a string."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def dumps_checked(obj: Mapping[str, Any], indent: int | None = 1) -> bytes:
    """``obj`` as JSON with ``"sha256"`` (digest of the canonical JSON of ``obj``) added
    as the last key. ``obj`` must be strict JSON (no NaN) and not hold that key."""
    body = {k: v for k, v in obj.items() if k != DIGEST_KEY}
    digest = hashlib.sha256(_canonical(body)).hexdigest()
    return json.dumps({**body, DIGEST_KEY: digest}, indent=indent, allow_nan=False).encode()


def loads_checked(data: bytes | str, name: str = "file") -> dict[str, Any]:
    """The JSON object in ``data`` without its ``"sha256"`` key, after checking it.

    An object without the key (written before checksums existed, or by hand) is
    returned as is: there is nothing to check it against.

    Raises
    ------
    CorruptFile
        ``data`` is not a JSON object (e.g. truncated) or its digest does not match.
    """
    try:
        obj = json.loads(data)
    except ValueError as err:  # UnicodeDecodeError is a ValueError too
        raise CorruptFile(f"{name} is not valid JSON, probably truncated ({one_line(err)})") \
            from None
    if not isinstance(obj, dict):
        raise CorruptFile(f"{name} does not hold a JSON object")
    stored = obj.pop(DIGEST_KEY, None)
    if stored is not None:
        try:
            actual = hashlib.sha256(_canonical(obj)).hexdigest()
        except ValueError:  # NaN or Infinity: never written by dumps_checked
            actual = ""
        if actual != stored:
            raise CorruptFile(f"{name} fails its sha256 check (its content was altered)")
    return obj


def arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over the names, dtypes, shapes and bytes of ``arrays`` (sorted by name),
    ignoring a ``"sha256"`` entry."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        if name == DIGEST_KEY:
            continue
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


__all__ = ["CorruptFile", "atomic_write", "remove_temp_files", "dumps_checked",
           "loads_checked", "arrays_digest", "json_safe", "DIGEST_KEY"]
