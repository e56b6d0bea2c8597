"""LiveWorker over FileInput: pacing, bad audio, failing models — the same ring/worker path as live."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from dsp.live import Decision, FileInput, LiveWorker, StreamEnded
from live_card import ASSETS, trained_bundle


@pytest.fixture(scope="module")
def bundle():
    from app.bundle import Bundle
    return Bundle.load(trained_bundle())


def run(worker: LiveWorker) -> tuple[list[Decision], StreamEnded]:
    q = worker.subscribe(maxsize=0)
    worker.start()
    assert worker.join(60), "the worker did not finish"
    items = [q.get_nowait() for _ in range(q.qsize())]
    assert isinstance(items[-1], StreamEnded) and not any(isinstance(i, StreamEnded) for i in items[:-1])
    return items[:-1], items[-1]


def test_a_file_through_the_live_path_gives_the_file_analysis(bundle):
    path = ASSETS / "test" / "fluidr3" / "oboe" / "oboe_D5_v80.flac"
    decisions, end = run(LiveWorker(FileInput(path, bundle.spec.sr), bundle))
    frames = bundle.extractor().analyse_file(path)
    assert end == StreamEnded("end of file")
    assert [d.time for d in decisions] == pytest.approx(frames.times.tolist())
    assert [d.confidence for d in decisions] == frames.confidence.tolist()
    assert {d.label for d in decisions} <= {"oboe", None} and [d.label for d in decisions].count("oboe") > 30


def test_realtime_pace_feeds_no_faster_than_the_audio_lasts(bundle):
    y = np.zeros(11025, np.float32)  # 0.5 s
    source = FileInput(y, bundle.spec.sr, realtime=True, blocksize=256)
    t0 = time.perf_counter()
    decisions, end = run(LiveWorker(source, bundle))
    assert time.perf_counter() - t0 >= 0.5 * (1 - 256 / 11025)  # the last block waits for its own time
    assert source.ring.stamp_for(len(y) - 1) - source.ring.stamp_for(0) >= 0.5 - 2 * 256 / 22050
    assert end == StreamEnded("end of file") and len(decisions) == 1 + len(y) // 512


def test_nan_and_clipped_audio_do_not_crash_and_noise_is_not_labelled(bundle):
    rng = np.random.default_rng(0)
    noise = (0.3 * rng.standard_normal(22050)).astype(np.float32)
    y = np.concatenate([noise, np.full(2048, np.nan, np.float32), np.full(4096, 4.0, np.float32)])
    decisions, end = run(LiveWorker(FileInput(y, bundle.spec.sr), bundle))
    assert end == StreamEnded("end of file") and len(decisions) == 1 + len(y) // 512
    assert all(math.isfinite(d.level_db) and math.isfinite(d.confidence) for d in decisions)
    in_noise = [d.label for d in decisions if d.time < 0.9]
    assert in_noise.count(None) >= 0.9 * len(in_noise)  # unpitched: gated by confidence


class Broken:
    def __init__(self, spec):
        self.spec = spec

    def predict_proba_point(self, vec):
        raise RuntimeError("model exploded")


def test_a_failing_model_ends_the_stream_with_the_reason(bundle):
    path = ASSETS / "test" / "fluidr3" / "trombone" / "trombone_D3_v80.flac"
    source = FileInput(path, bundle.spec.sr)
    decisions, end = run(LiveWorker(source, Broken(bundle.spec)))
    assert end.reason == "analysis error" and "RuntimeError: model exploded" in end.error
    assert source.ended.is_set()


def test_a_clip_level_model_is_refused_plainly(bundle):
    class ClipModel(Broken):
        level = "clip"
    with pytest.raises(ValueError, match="frame-level model"):
        LiveWorker(FileInput(np.zeros(10, np.float32)), ClipModel(bundle.spec))
