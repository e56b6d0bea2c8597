"""The live path through a real PortAudio stream on the virtual sound card, fed with real notes.

One recording (module fixture): the worker listens on the default input while a trombone note, an
oboe note and silence are played into the card. The decisions must follow (trombone, oboe, None),
and FileInput fed the very samples the live stream recorded must give the same decisions.
"""
from __future__ import annotations

import math
import queue
import time
import numpy as np
import pytest

from dsp.live import Decision, FileInput, LiveInput, LiveWorker, StreamEnded
from live_card import note_sequence, play, private_sink, trained_bundle


def drain(q: queue.Queue) -> tuple[list[Decision], StreamEnded | None]:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            break
    ends = [i for i in items if isinstance(i, StreamEnded)]
    return [i for i in items if isinstance(i, Decision)], (ends[-1] if ends else None)


def runs(labels: list, min_len: int = 3) -> list:
    """Collapse a label sequence into its runs, dropping runs shorter than min_len frames (transitions)."""
    out: list = []
    i = 0
    while i < len(labels):
        j = i
        while j < len(labels) and labels[j] == labels[i]:
            j += 1
        if j - i >= min_len and (not out or out[-1] != labels[i]):
            out.append(labels[i])
        i = j
    return out


@pytest.fixture(scope="module")
def bundle():
    from app.bundle import Bundle
    return Bundle.load(trained_bundle())


@pytest.fixture(scope="module")
def live_run(bundle, tmp_path_factory):
    path, t_trombone, t_oboe = note_sequence(tmp_path_factory.mktemp("live") / "notes.wav")
    with private_sink() as sink:
        source = LiveInput(None, bundle.spec.sr, blocksize=256)
        worker = LiveWorker(source, bundle, record=True)
        q = worker.subscribe(maxsize=0)
        worker.start()
        stream_latency = source.stream_latency
        try:
            while source.ring.written == 0 and worker.running:  # first audio in, then play
                time.sleep(0.01)
            play(sink, path)
            time.sleep(0.5)
        finally:
            worker.stop()
    decisions, end = drain(q)
    return dict(decisions=decisions, end=end, worker=worker, source=source, stream_latency=stream_latency,
                t_trombone=t_trombone, t_oboe=t_oboe)


def test_the_stream_ran_at_the_spec_rate_without_losing_audio(live_run, bundle):
    source, end = live_run["source"], live_run["end"]
    assert source.samplerate == bundle.spec.sr  # PulseAudio accepts 22050: no resampling needed
    assert end == StreamEnded("stopped") and source.closed
    assert live_run["worker"].stats.overflows == 0
    assert 0 < live_run["stream_latency"] < 1
    lat = [d.latency_s for d in live_run["decisions"]]
    assert lat and all(math.isfinite(x) and x > 0 for x in lat)


def test_decisions_follow_trombone_then_oboe_then_silence(live_run):
    decisions = live_run["decisions"]
    # Align on the onset: the recording starts with silence of unknown length (stream start, paplay).
    onset = next(d.time for d in decisions if d.level_db > -40)
    t1 = onset + live_run["t_trombone"]
    t2 = t1 + live_run["t_oboe"]

    def labels(a, b):
        return [d.label for d in decisions if a <= d.time < b]

    trombone, oboe, silence = labels(onset + 0.25, t1 - 0.1), labels(t1 + 0.35, t2 - 0.1), labels(t2 + 0.5, 1e9)
    assert trombone.count("trombone") >= 0.9 * len(trombone) > 0, trombone
    assert oboe.count("oboe") >= 0.9 * len(oboe) > 0, oboe
    assert silence and all(x is None for x in silence), silence
    # The note's first frames are still unpitched (attack, decoding), so a None run may lead.
    assert runs([d.label for d in decisions if d.time >= onset]) in (["trombone", "oboe", None],
                                                                     [None, "trombone", "oboe", None])
    # Silence is gated: no label and no probabilities; a note's probabilities are a distribution.
    assert all(d.probabilities == {} for d in decisions if d.label is None)
    assert all(abs(sum(d.probabilities.values()) - 1) < 1e-6 for d in decisions if d.label)
    voiced = [d for d in decisions if onset + 0.25 <= d.time < t1 - 0.1 and math.isfinite(d.f0)]
    assert np.median([d.f0 for d in voiced]) == pytest.approx(146.8, rel=0.03)  # D3


def test_file_input_gives_the_same_decisions_as_the_live_path(live_run, bundle):
    live = live_run["decisions"]
    recorded = live_run["worker"].recording()
    worker = LiveWorker(FileInput(recorded, bundle.spec.sr, blocksize=333), bundle)
    q = worker.subscribe(maxsize=0)
    worker.start()
    assert worker.join(60)
    replayed, end = drain(q)
    assert end == StreamEnded("end of file")
    assert len(replayed) >= len(live)  # the file's end also flushes the frames still owed
    assert [same(d) for d in replayed[: len(live)]] == [same(d) for d in live]


def same(d: Decision) -> tuple:
    """Everything but latency (wall-clock), with NaN (unvoiced f0) comparable."""
    return tuple("nan" if isinstance(v, float) and math.isnan(v) else v
                 for v in (d.time, d.label, d.probabilities, d.f0, d.midi, d.confidence, d.level_db))
