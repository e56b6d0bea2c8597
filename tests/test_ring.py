"""RingBuffer: no loss, no reordering, overflows counted, stamps found — alone and under two threads."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp.ring import RingBuffer


def test_rejects_a_zero_capacity():
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(0)


def test_a_full_ring_drops_the_whole_block_and_counts_it():
    r = RingBuffer(10)
    assert r.write(np.arange(8, dtype=np.float32))
    assert not r.write(np.arange(3, dtype=np.float32))  # 3 > 2 free: dropped, nothing partial
    assert (r.overflows, r.dropped_samples, r.available()) == (1, 3, 8)
    out = np.zeros(20, np.float32)
    assert r.read(out) == 8
    np.testing.assert_array_equal(out[:8], np.arange(8))
    assert r.read(out) == 0


def test_keeps_channel_zero_of_a_multichannel_block():
    r = RingBuffer(16)
    block = np.stack([np.arange(5), -np.arange(5)], axis=1).astype(np.float32)
    r.write(block)
    out = np.zeros(5, np.float32)
    r.read(out)
    np.testing.assert_array_equal(out, np.arange(5))


def test_stamps_name_the_block_that_held_a_sample():
    r = RingBuffer(1000, max_blocks=4)
    for i in range(6):
        r.write(np.zeros(100, np.float32), float(i))
    assert r.stamp_for(599) == 5.0 and r.stamp_for(500) == 5.0 and r.stamp_for(499) == 4.0
    assert r.stamp_for(200) == 2.0
    assert np.isnan(r.stamp_for(199))  # its block's stamp was overwritten: unknown, not wrong
    assert np.isnan(r.stamp_for(600))  # not written yet


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 64),
    ops=st.lists(st.tuples(st.booleans(), st.integers(0, 80)), max_size=60),
)
def test_any_interleaving_reads_back_exactly_what_was_accepted(capacity, ops):
    r = RingBuffer(capacity)
    accepted, got, counter = [], [], 0
    for is_write, n in ops:
        if is_write:
            block = np.arange(counter, counter + n, dtype=np.float32)
            counter += n
            if r.write(block):
                accepted.extend(block.tolist())
        else:
            out = np.full(n, -1, np.float32)
            k = r.read(out)
            got.extend(out[:k].tolist())
            assert (out[k:] == -1).all()  # nothing written past what was returned
        assert 0 <= r.available() <= capacity
    out = np.zeros(capacity, np.float32)
    got.extend(out[: r.read(out)].tolist())
    assert got == accepted
    assert r.written == len(accepted) and r.dropped_samples == counter - len(accepted)


def test_concurrent_producer_and_consumer_lose_and_reorder_nothing():
    # The producer retries a dropped block so every number must arrive, once, in order.
    r = RingBuffer(1024)
    total, errors = 200_000, []
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 700, size=5000)

    def produce():
        i = k = 0
        while i < total:
            n = int(min(sizes[k % len(sizes)], total - i))
            k += 1
            block = np.arange(i, i + n, dtype=np.float64).astype(np.float32)
            while not r.write(block):
                pass
            i += n

    def consume():
        expected, out = 0, np.zeros(333, np.float32)
        while expected < total:
            n = r.read(out)
            if n and not np.array_equal(out[:n], np.arange(expected, expected + n, dtype=np.float32)):
                errors.append(f"at {expected}: got {out[:5]}")
                return
            expected += n

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "producer/consumer did not finish"
    assert errors == []
    assert r.written == total and r.consumed == total
