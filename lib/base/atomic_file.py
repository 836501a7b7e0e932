"""Writing a file so that a crash leaves either the old text or the new one, never half of either: a
temporary file beside it (mode 0600), flushed to disk, renamed over it, and the directory flushed so the
rename itself survives a power cut (where the platform lets a directory be opened)."""

from __future__ import annotations

import os
import tempfile


def write_atomically(path: str, text: str, *, prefix: str = ".tmp-") -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
