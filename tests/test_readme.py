"""The README's library snippet runs as written (documentation that cannot rot)."""

import contextlib
import io
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _library_snippet() -> str:
  text = README.read_text()
  start = text.index("```python\n", text.index("## Using it as a library")) + len("```python\n")
  return text[start : text.index("```\n", start)]


def test_library_snippet_runs():
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    exec(compile(_library_snippet(), str(README), "exec"), {})
  shapes, numbers = out.getvalue().splitlines()
  assert shapes == "(4, 81, 11) (4,) (4,)"
  loss, step = numbers.split()
  assert float(loss) > 0 and step == "1"
