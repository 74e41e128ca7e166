"""Keeping freed memory in the process: measured by the resident size after a free."""

import subprocess
import sys

import pytest

from deepalloc._memory import _libc, retain_freed_memory

CODE = """
import os, sys
import numpy as np
from deepalloc._memory import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
page = os.sysconf("SC_PAGE_SIZE")
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
block = np.ones(8 * 2**20)  # 64 MiB, touched
held = resident()
del block
print((held - resident()) / 2**20)
"""


def mib_given_back(mode: str) -> float:
    """MiB the process's resident size falls by when a touched 64 MiB array is freed."""
    out = subprocess.run(
        [sys.executable, "-c", CODE, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


@pytest.mark.skipif(_libc() is None, reason="needs glibc's mallopt")
def test_freed_memory_stays_in_the_process_for_reuse():
    # by default glibc serves a block that large by mmap and unmaps it on free; kept,
    # the next allocation reuses those pages instead of faulting fresh ones in
    assert mib_given_back("default") > 60
    assert mib_given_back("retain") < 4


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="trim_threshold: expected bytes >= 0"):
        retain_freed_memory(-1)
    with pytest.raises(TypeError, match="trim_threshold: expected an int"):
        retain_freed_memory(1.5)  # type: ignore[arg-type]
