"""What a bench report says it measured: the commit, whether the tree had
uncommitted changes, and the build's CFLAGS (bench/run.py, bench/callgrind.py)."""

import os
import re
import subprocess

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cmd(argv):
    """A command's stdout, stripped; "" when it cannot run."""
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, cwd=SRCDIR, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def build_info(builddir):
    """(short commit or "?", " (with uncommitted changes)" or "", CFLAGS or "?")."""
    commit = cmd(["git", "rev-parse", "--short", "HEAD"]) or "?"
    dirty = " (with uncommitted changes)" if cmd(["git", "status", "--porcelain", "-uno"]) else ""
    cflags = "?"
    try:
        with open(os.path.join(builddir, "Makefile")) as f:
            m = re.search(r"^CFLAGS = (.*)$", f.read(), re.M)
            cflags = m.group(1) if m else "?"
    except OSError:
        pass
    return commit, dirty, cflags
