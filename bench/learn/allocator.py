"""Keep freed memory in the process, for seed batches: they reallocate the same large tensors every step.

glibc's ``malloc`` serves blocks above ``M_MMAP_THRESHOLD`` with fresh ``mmap``
pages and gives heap memory above ``M_TRIM_THRESHOLD`` back to the kernel; both
adapt to the sizes freed so far, but a seed batch's tensors (a few hundred
kilobytes while acting, megabytes in the loss) still kept being returned and
faulted in again. With both thresholds raised, a 64-seed mlp batch of 5,000
steps per seed faults about 100,000 times instead of 420,000-450,000 and takes
9 % less CPU time, for 12-25 MB more peak memory (``docs/performance.md`` gives
the command).

Single runs keep glibc's defaults: their tensors are small, the page faults they
would save did not show in their speed, and with fixed thresholds one ``lstm``
job's peak depended on the heap's layout (454 or 688 MB, with the same numbers).

Not glibc (macOS, musl): nothing to do, and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD = -1  # mallopt parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest allowed value on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD_BYTES = 256 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True if they were set (once per process)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
