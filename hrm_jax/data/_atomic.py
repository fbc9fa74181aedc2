"""Write a directory all at once: build it under a temporary name, then rename it into place."""
from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_directory(out_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory beside `out_dir`; on success it replaces `out_dir`.

    If the body raises, the temporary directory is removed and `out_dir` is left as it was,
    so a reader never sees a half-written dataset. An existing `out_dir` is replaced only
    after the new one is complete.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp_dir = out_dir.parent / f".{out_dir.name}.tmp-{token}"
    tmp_dir.mkdir()
    try:
        yield tmp_dir
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    old_dir = None
    if out_dir.exists():
        old_dir = out_dir.parent / f".{out_dir.name}.old-{token}"
        os.replace(out_dir, old_dir)
    try:
        os.replace(tmp_dir, out_dir)
    except BaseException:
        if old_dir is not None:
            os.replace(old_dir, out_dir)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    if old_dir is not None:
        shutil.rmtree(old_dir, ignore_errors=True)
