"""A preallocated single-producer/single-consumer ring buffer for audio samples.

The producer is the PortAudio callback (or FileInput's feeder thread); the consumer is the LiveWorker.
Neither side takes a lock: each index is written by one side only and both only grow, so the
consumer never sees samples the producer has not finished copying, and a full ring drops the whole
incoming block (counted as an overflow) instead of overwriting unread audio.

Each written block also leaves a time stamp (``time.perf_counter()`` at the callback), so the worker
can tell when any sample entered the program and measure decision latency from it.

The copy kernels run with the GIL held on purpose (``nogil=False``): the callback already holds the
GIL to run Python at all, a copy of a block takes well under a microsecond, and releasing the GIL
inside the callback would let another thread take it and stall the audio thread for up to the
interpreter's switch interval (5 ms). Holding it also makes the index updates ordered for free.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# Slots of the shared int64 state array. WRITE/READ are absolute sample counts (never wrap).
_WRITE, _READ, _OVERFLOWS, _DROPPED, _BLOCKS = 0, 1, 2, 3, 4


@njit(cache=True, nogil=False)
def _write(buf, state, stamp_start, stamp_end, stamp_time, block, t):  # pragma: no cover - numba
    """Copy channel 0 (or the mono signal) of ``block`` into ``buf``; False if it did not fit."""
    n = block.shape[0]
    cap = buf.shape[0]
    w = state[_WRITE]
    if n > cap - (w - state[_READ]):
        state[_OVERFLOWS] += 1
        state[_DROPPED] += n
        return False
    start = w % cap
    if block.ndim == 1:
        for i in range(n):
            buf[(start + i) % cap] = block[i]
    else:
        for i in range(n):
            buf[(start + i) % cap] = block[i, 0]
    k = state[_BLOCKS] % stamp_end.shape[0]
    stamp_start[k] = w
    stamp_end[k] = w + n
    stamp_time[k] = t
    state[_BLOCKS] += 1
    state[_WRITE] = w + n  # publish last: the consumer reads only below WRITE
    return True


@njit(cache=True, nogil=False)
def _read(buf, state, out):  # pragma: no cover - numba
    cap = buf.shape[0]
    r = state[_READ]
    n = min(out.shape[0], state[_WRITE] - r)
    start = r % cap
    for i in range(n):
        out[i] = buf[(start + i) % cap]
    state[_READ] = r + n  # free the space last: the producer writes only above READ
    return n


@njit(cache=True, nogil=False)
def _stamp_for(state, stamp_start, stamp_end, stamp_time, index):  # pragma: no cover - numba
    """Time stamp of the block that held absolute sample ``index``; NaN if it is no longer kept."""
    blocks = state[_BLOCKS]
    m = stamp_end.shape[0]
    # Binary search the kept blocks (oldest..newest) for the first whose end is past index.
    a, b = max(0, blocks - m), blocks
    while a < b:
        mid = (a + b) // 2
        if stamp_end[mid % m] > index:
            b = mid
        else:
            a = mid + 1
    if a >= blocks or index < stamp_start[a % m]:
        return np.nan
    return stamp_time[a % m]


class RingBuffer:
    """Lock-free SPSC ring of float32 samples with per-block time stamps.

    ``write`` is for the producer thread only and ``read`` for the consumer thread only.
    """

    def __init__(self, capacity: int, *, max_blocks: int | None = None, dtype=np.float32) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1 sample, not {capacity}")
        self.capacity = int(capacity)
        self._buf = np.zeros(self.capacity, dtype=dtype)
        self._state = np.zeros(5, dtype=np.int64)
        # Enough stamps for every unread block down to 16-sample blocks; older stamps are overwritten.
        nstamps = int(max_blocks) if max_blocks else max(64, self.capacity // 16)
        self._stamp_start = np.zeros(nstamps, dtype=np.int64)
        self._stamp_end = np.zeros(nstamps, dtype=np.int64)
        self._stamp_time = np.zeros(nstamps, dtype=np.float64)

    def write(self, block: np.ndarray, stamp: float = math.nan) -> bool:
        """Producer: copy a (n,) or (n, channels) block (channel 0 is kept); False if dropped (full)."""
        return _write(self._buf, self._state, self._stamp_start, self._stamp_end, self._stamp_time, block, stamp)

    def read(self, out: np.ndarray) -> int:
        """Consumer: copy up to ``len(out)`` of the oldest unread samples into ``out``; returns how many."""
        return _read(self._buf, self._state, out)

    def stamp_for(self, index: int) -> float:
        """``perf_counter`` stamp of the write that held absolute sample ``index`` (NaN if unknown)."""
        return _stamp_for(self._state, self._stamp_start, self._stamp_end, self._stamp_time, index)

    def available(self) -> int:
        """Samples written and not yet read."""
        return int(self._state[_WRITE] - self._state[_READ])

    def free(self) -> int:
        """Room for this many samples now (only grows until the producer writes again)."""
        return self.capacity - self.available()

    @property
    def written(self) -> int:
        """Samples accepted since the start (dropped blocks excluded)."""
        return int(self._state[_WRITE])

    @property
    def consumed(self) -> int:
        return int(self._state[_READ])

    @property
    def overflows(self) -> int:
        """Blocks dropped because the ring was full."""
        return int(self._state[_OVERFLOWS])

    @property
    def dropped_samples(self) -> int:
        return int(self._state[_DROPPED])

    def warm_up(self) -> None:
        """Compile/load the kernels for the common block shapes before a real-time thread needs them."""
        spare = RingBuffer(64, max_blocks=4, dtype=self._buf.dtype)
        spare.write(np.zeros(4, dtype=self._buf.dtype), 0.0)
        spare.write(np.zeros((4, 1), dtype=self._buf.dtype), 0.0)
        spare.write(np.zeros((4, 2), dtype=self._buf.dtype), 0.0)
        spare.read(np.zeros(8, dtype=self._buf.dtype))
        spare.stamp_for(0)
