"""Output folders that never lose a user's file: the one rule every builder and the demo use.

A tool that writes a folder (a dataset builder, `experiments.demo --out`) may write into a
missing or empty folder, or replace what it wrote there itself before; anything else is
refused with one line (`OutputFolderError`) naming the folder and what to change:

* the current directory, or a folder holding it (``--out .``);
* a file (or a path through a file) where the folder should be;
* a non-empty folder that holds none of the tool's own output (e.g. a parent of datasets).

A replacement removes only the files the previous run listed in its `MANIFEST` (or, for
an older dataset without one, the files the dataset format defines), never unknown ones.
New content is built in a temporary folder beside the output and moved in at the end, so
an error leaves the old content as it was and nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterable, Iterator

from hrm_jax.errors import UserError

MANIFEST = "build_files.json"  # the relative paths of every file a build wrote


class OutputFolderError(UserError, ValueError):
  """An output folder that a tool refuses to write into (it would lose or mix files)."""


def check_location(out_dir: str | os.PathLike) -> Path:
  """Refuse the current directory (or a folder holding it) and a file in the way."""
  out = Path(out_dir)
  here = Path.cwd().resolve()
  target = out.resolve()
  if target == here or target in here.parents:
    raise OutputFolderError(
      f"{out}: is the current directory (or holds it); give the output a folder of "
      "its own, e.g. --out data/NAME"
    )
  for path in [target, *target.parents]:
    if path.exists() and not path.is_dir():
      where = "is a file" if path == target else f"lies under the file {path}"
      raise OutputFolderError(f"{out}: {where}, not a folder; give another --out")
  return out


def is_empty(out_dir: Path) -> bool:
  """True for a missing folder or one without entries."""
  return not out_dir.exists() or not any(out_dir.iterdir())


def refuse_foreign(out_dir: Path, wanted: str) -> OutputFolderError:
  """The error for a non-empty folder that holds no output of this tool (`wanted`)."""
  datasets = sorted(p.name for p in out_dir.iterdir() if (p / "build_args.json").is_file())
  if datasets:
    shown = ", ".join(datasets[:3]) + (", ..." if len(datasets) > 3 else "")
    return OutputFolderError(
      f"{out_dir}: holds other datasets ({shown}); give the new one a folder of its "
      f"own, e.g. --out {out_dir / 'NAME'} (nothing was changed)"
    )
  return OutputFolderError(
    f"{out_dir}: folder is not empty and holds no {wanted}; refusing to write into it "
    "(nothing was changed); give a new or empty folder as --out"
  )


def read_manifest(out_dir: Path) -> list[str] | None:
  """The files a previous build listed in `MANIFEST`, or None when there is no readable one."""
  try:
    files = json.loads((out_dir / MANIFEST).read_text())
  except (OSError, ValueError):
    return None
  if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
    return None
  return [f for f in files if _is_inside(f)]


def _is_inside(rel: str) -> bool:
  """A path strictly inside the folder (not the folder itself, not above it)."""
  parts = Path(rel).parts
  return bool(parts) and not Path(rel).is_absolute() and ".." not in parts


def remove_owned(out_dir: Path, owned: Iterable[str]) -> None:
  """Delete the listed files or trees under `out_dir` (what a tool wrote there itself).

  Folders left empty by it are removed too; every other entry stays as it was.
  """
  parents = set()
  for rel in owned:
    if not _is_inside(rel):
      continue
    path = out_dir / rel
    if path.is_dir() and not path.is_symlink():
      shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
      path.unlink()
    parents.update(p for p in Path(rel).parents if p != Path("."))
  _prune_empty(out_dir, parents)


def _prune_empty(out_dir: Path, rels: Iterable[Path]) -> None:
  for rel in sorted(rels, key=lambda p: len(p.parts), reverse=True):
    with contextlib.suppress(OSError):
      (out_dir / rel).rmdir()  # only succeeds when empty


def _files_under(root: Path) -> list[str]:
  return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


@contextlib.contextmanager
def atomic_directory(
  out_dir: str | os.PathLike, replace: Iterable[str] | None = None, manifest: bool = True
) -> Iterator[Path]:
  """Yield a fresh temporary folder beside `out_dir`; on success its files land in `out_dir`.

  `out_dir` must be missing or empty, or `replace` lists the relative paths of the
  previous build's own files: those are swapped for the new files, every other file in
  `out_dir` stays. A new file that would overwrite a file not in `replace` is refused.
  If the body (or the move) fails, `out_dir` is left as it was. With `manifest`, the
  list of new files is written to `MANIFEST`.
  """
  out = check_location(out_dir)
  if not is_empty(out) and replace is None:
    raise refuse_foreign(out, "earlier output of this tool")
  out.parent.mkdir(parents=True, exist_ok=True)
  token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
  tmp = out.parent / f".{out.name}.tmp-{token}"
  tmp.mkdir()
  try:
    yield tmp
    if manifest:
      files = [f for f in _files_under(tmp) if f != MANIFEST]
      (tmp / MANIFEST).write_text(json.dumps(files + [MANIFEST], indent=1))
    if not out.exists():
      os.replace(tmp, out)
      return
    _install(tmp, out, set(replace or ()), out.parent / f".{out.name}.old-{token}")
  finally:
    shutil.rmtree(tmp, ignore_errors=True)


def _install(tmp: Path, out: Path, old: set[str], backup: Path) -> None:
  """Move the files of `tmp` into `out`, first moving the `old` files aside into `backup`."""
  new = _files_under(tmp)
  clash = [rel for rel in new if (out / rel).exists() and rel not in old]
  clash += [
    rel for rel in new for p in Path(rel).parents if (out / p).exists() and not (out / p).is_dir()
  ]
  if clash:
    raise OutputFolderError(
      f"{out}: the new build would overwrite {out / clash[0]}, a file "
      "it did not write; move that file away or choose another --out"
    )
  moved: list[str] = []
  placed: list[str] = []
  try:
    for rel in sorted(old):
      src = out / rel
      if src.is_file() or src.is_symlink():
        (backup / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, backup / rel)
        moved.append(rel)
    for rel in new:
      (out / rel).parent.mkdir(parents=True, exist_ok=True)
      shutil.move(tmp / rel, out / rel)
      placed.append(rel)
  except BaseException:
    for rel in placed:
      (out / rel).unlink(missing_ok=True)
    for rel in moved:
      os.replace(backup / rel, out / rel)
    shutil.rmtree(backup, ignore_errors=True)
    raise
  shutil.rmtree(backup, ignore_errors=True)
  _prune_empty(out, {p for rel in old for p in Path(rel).parents if p != Path(".")})


def claim_marked_folder(
  out_dir: str | os.PathLike, marker: str, owned: list[str], what: str
) -> Path:
  """Prepare the output folder of a tool that writes runs into it (the demo); returns it.

  Allowed: a missing or empty folder, or one holding the tool's `marker` file from an
  earlier run; then the entries that run listed in the marker are removed (nothing else).
  Anything else is refused (OutputFolderError). Writes the marker, listing `owned` (the
  entries this run will write, relative to the folder) before anything else is written.
  """
  out = check_location(out_dir)
  if not is_empty(out):
    try:
      previous = json.loads((out / marker).read_text())["owned"]
    except (OSError, ValueError, KeyError, TypeError):
      raise refuse_foreign(out, f"{what} ({marker})") from None
    if not isinstance(previous, list):
      raise refuse_foreign(out, f"{what} ({marker})")
    remove_owned(out, [str(p) for p in previous])
  out.mkdir(parents=True, exist_ok=True)
  record = {"written_by": what, "owned": sorted(set(owned) | {marker})}
  (out / marker).write_text(json.dumps(record, indent=1))
  return out
