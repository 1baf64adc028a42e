"""Shared pieces of the bench harness tests (tests/bench/): where things are, running
bench/run and bench/compare, copying a fixture, reading markdown tables back.

The tests print TAP through tests/integration/harness.py's Tap and use the Python
standard library only.  Fixtures are described in fixtures/README.md."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BENCH = ROOT / "bench"
FIXTURES = HERE / "fixtures"

sys.dont_write_bytecode = True
sys.path[:0] = [str(BENCH), str(ROOT / "tests" / "integration")]

from harness import Tap, skip_all  # noqa: E402,F401  (re-exported for the tests)


def bench(tool, *args, env=None, timeout=60):
    """Runs bench/<tool> with this Python; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, str(BENCH / tool)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def scratch():
    """A temporary directory, removed when the test exits."""
    tmp = Path(tempfile.mkdtemp(prefix="ringlab-benchtest-"))
    atexit.register(shutil.rmtree, tmp, True)
    return tmp


def copy_fixture(name):
    """A scratch copy of fixtures/<name> (a result directory may be rewritten)."""
    dest = scratch() / name.replace("/", "-")
    shutil.copytree(FIXTURES / name, dest)
    return dest


def md_tables(text):
    """Every markdown table of `text` as (heading, [row dicts]); heading is the nearest
    non-empty line above the table that is not part of it."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            head = [c.strip() for c in lines[i].strip().strip("|").split("|")]
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            title = lines[j].strip() if j >= 0 else ""
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                rows.append(dict(zip(head, cells)))
                i += 1
            out.append((title, rows))
        else:
            i += 1
    return out


def table_after(text, title_start):
    """Rows of the first table whose heading starts with `title_start`, by first cell."""
    for title, rows in md_tables(text):
        if title.startswith(title_start):
            return {next(iter(r.values())): r for r in rows}
    return None


def no_gnuplot_env():
    """The environment with a PATH on which no gnuplot can be found."""
    env = dict(os.environ)
    env["PATH"] = "/nonexistent"
    return env
