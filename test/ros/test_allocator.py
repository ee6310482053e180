"""sameo_ros.allocator on this (glibc Linux) machine."""

from __future__ import annotations

import platform
import sys

import pytest

from sameo_ros.allocator import keep_large_buffers


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)
def test_keep_large_buffers_sets_the_glibc_thresholds() -> None:
    assert keep_large_buffers() is True
    assert keep_large_buffers(mmap_threshold=1 << 20, trim_threshold=1 << 21) is True
