"""From frame probabilities to labels: smoothing, gating, hysteresis (pure logic, no audio)."""
import pytest

from dsp.live.decide import Decider, DecisionSettings, Smoother

T, O = {"trombone": 0.9, "oboe": 0.1}, {"trombone": 0.1, "oboe": 0.9}


def labels(decider: Decider, frames) -> list:
    return [decider.push(f)[0] for f in frames]


def test_smoothing_averages_the_ungated_frames_of_the_window():
    s = Smoother(3)
    assert s.push(T) == pytest.approx(T)
    assert s.push(O) == pytest.approx({"oboe": 0.5, "trombone": 0.5})
    s.push(None)
    assert s.push(O) == pytest.approx({"oboe": 0.9, "trombone": 0.1})  # T left the window


def test_silence_gives_no_label_and_no_probabilities():
    d = Decider(DecisionSettings())
    assert d.push(None) == (None, {})
    assert labels(d, [T] * 5 + [None] * 5)[-1] is None


def test_a_one_frame_dip_inside_a_note_keeps_the_label_and_the_end_comes_two_frames_late():
    d = Decider(DecisionSettings(smoothing_frames=5))
    got = labels(d, [T] * 6 + [None] + [T] * 3 + [None] * 4)
    assert got == ["trombone"] * 10 + ["trombone", "trombone", None, None]


def test_switching_class_needs_the_switch_probability():
    d = Decider(DecisionSettings(smoothing_frames=1, switch_probability=0.7))
    unsure = {"trombone": 0.4, "oboe": 0.6}
    assert labels(d, [T, unsure, unsure, O]) == ["trombone", "trombone", "trombone", "oboe"]
    d = Decider(DecisionSettings(smoothing_frames=1))
    assert labels(d, [unsure]) == ["oboe"]  # from no label, the winner is taken at once


def test_min_probability_and_bad_settings():
    d = Decider(DecisionSettings(smoothing_frames=1, min_probability=0.95))
    assert labels(d, [T]) == [None]
    with pytest.raises(ValueError, match="smoothing_frames"):
        DecisionSettings(smoothing_frames=0)
