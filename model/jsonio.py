"""Atomic JSON files for every model object (FluCoMa's dumps are plain JSON).

Writes go to a temporary file in the destination directory, are fsync'ed, then renamed over the
target with ``os.replace``: a crash or full disk never leaves a half-written model behind.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterator, TypeVar

T = TypeVar("T")


class JSONFileError(ValueError):
    """A JSON file is missing, unreadable, malformed, truncated or of the wrong shape."""


class MissingJSONFileError(JSONFileError, FileNotFoundError):
    """The JSON file does not exist (also a FileNotFoundError, so either can be caught)."""


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit fsync it and rename it over ``path``.

    Readers see the old file or the new one, never half of one; on an error the temporary file is
    removed and ``path`` is untouched.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable; not every platform allows fsync on a directory
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically; returns the path written."""
    path = Path(path)
    # Serialise first: a value JSON cannot hold (NaN, numpy scalar) fails before any file exists.
    try:
        text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise JSONFileError(f"cannot write {path}: the data is not plain finite JSON ({exc})") from exc
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise MissingJSONFileError(
            f"cannot write {path}: folder {directory} does not exist; create it first")
    with atomic_file(path) as f:
        f.write(text)
    return path


def load_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, raising JSONFileError with the path and the problem if it cannot."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingJSONFileError(f"{path} does not exist: check the path or save the object first") from None
    except IsADirectoryError:
        raise JSONFileError(f"{path} is a folder, not a JSON file: give the path of a .json file") from None
    except UnicodeDecodeError as exc:
        raise JSONFileError(f"{path} is not a UTF-8 text file ({exc}): give a JSON file") from None
    except OSError as exc:
        raise JSONFileError(f"cannot read {path}: {exc}") from None
    if not text.strip():
        raise JSONFileError(f"{path} is empty: the file was never written completely; save it again")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = ("the file ends early (truncated?)" if exc.pos >= len(text.rstrip()) - 1
                else "the file is not valid JSON")
        raise JSONFileError(
            f"{path}: {hint} at line {exc.lineno} column {exc.colno} ({exc.msg}); "
            "restore it from a backup or save it again") from None
    except RecursionError:
        raise JSONFileError(f"{path}: the JSON is nested too deeply to be a model or data file") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise JSONFileError(f"{path}: the file holds a value Python cannot read ({exc})") from None


def load_as(from_dict: Callable[[Any], T], path: str | os.PathLike) -> T:
    """Load ``path`` and build an object with ``from_dict``; a wrong-shaped file names the path."""
    d = load_json(path)
    try:
        return from_dict(d)
    except JSONFileError:
        raise
    except ValueError as exc:
        raise JSONFileError(f"{path}: {exc}") from None
