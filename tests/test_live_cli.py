"""`timbrel devices` and `timbrel live` through the real entry point (subprocess)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import soundfile as sf

from live_card import ROOT, note_sequence, play, private_sink, require_card, trained_bundle

DECISION_KEYS = {"time", "label", "unknown", "probabilities", "f0", "confidence", "level_db", "latency_s"}
SUMMARY_KEYS = {"summary", "decisions", "changes", "seconds", "overflows", "latency_mean_s", "latency_p95_s",
                "ended", "error"}


def timbrel(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def parse_json_lines(stdout: str) -> tuple[list[dict], dict]:
    lines = [json.loads(line) for line in stdout.splitlines()]  # every line is one JSON object
    assert lines and lines[-1].get("summary") is True
    changes = lines[:-1]
    for c in changes:
        assert set(c) == DECISION_KEYS, c
        assert c["label"] is None or isinstance(c["label"], str)
        assert isinstance(c["probabilities"], dict) and isinstance(c["time"], float)
        assert (c["probabilities"] == {}) == (c["label"] is None)
    assert set(lines[-1]) == SUMMARY_KEYS
    assert all(a["label"] != b["label"] for a, b in zip(changes, changes[1:]))  # changes only
    assert [c["time"] for c in changes] == sorted(c["time"] for c in changes)
    return changes, lines[-1]


def test_devices_lists_the_default_input():
    require_card()
    proc = timbrel("devices")
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith("*") and "default" in line for line in proc.stdout.splitlines())
    listed = json.loads(timbrel("devices", "--json").stdout)
    assert {"index", "name", "hostapi", "channels", "default_samplerate", "is_default"} <= set(listed[0])


def test_live_json_on_a_file_follows_the_notes(tmp_path):
    path, _, _ = note_sequence(tmp_path / "notes.wav")
    proc = timbrel("live", str(trained_bundle()), "--json", "--input-file", str(path))
    assert proc.returncode == 0, proc.stderr
    changes, summary = parse_json_lines(proc.stdout)
    assert [c["label"] for c in changes] == [None, "trombone", "oboe", None]
    assert summary["ended"] == "end of file" and summary["error"] is None and summary["overflows"] == 0
    n_samples = sf.info(str(path)).frames
    assert summary["changes"] == len(changes) and summary["decisions"] == 1 + n_samples // 512  # every frame
    trombone = changes[1]
    assert trombone["probabilities"]["trombone"] > 0.7 and 0 <= trombone["confidence"] <= 1


def test_live_text_output_and_seconds_limit(tmp_path):
    path, _, _ = note_sequence(tmp_path / "notes.wav")
    proc = timbrel("live", str(trained_bundle()), "--input-file", str(path), "--seconds", "1.0")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "trombone" in proc.stdout and "oboe" not in proc.stdout  # stopped inside the first note
    # Frames are 512/22050 s apart: frame 44 (1.02 s) is the first at 1 s, so 45 decisions.
    assert lines[-1].startswith("45 decisions over 1.02 s") and "0 overflows" in lines[-1]


def test_live_on_the_sound_card_prints_the_notes(tmp_path):
    path, t1, t2 = note_sequence(tmp_path / "notes.wav", silence_s=1.0)
    with private_sink() as sink:  # the subprocess inherits PULSE_SOURCE: it records our sink
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "live", str(trained_bundle()), "--json",
                                 "--seconds", "5"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=dict(os.environ))
        err: list[str] = []
        listening = threading.Event()

        def read_stderr() -> None:
            for line in proc.stderr:
                err.append(line)
                listening.set()
            listening.set()

        threading.Thread(target=read_stderr, daemon=True).start()
        assert listening.wait(120) and proc.poll() is None, "".join(err)
        assert "listening to 'default' at 22050 Hz" in err[0]
        play(sink, path)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(err)
    changes, summary = parse_json_lines(out)
    labels = [c["label"] for c in changes]
    assert "trombone" in labels and "oboe" in labels and labels.index("trombone") < labels.index("oboe")
    assert labels[-1] is None and summary["overflows"] == 0 and summary["latency_p95_s"] > 0


def test_live_usage_and_model_errors(tmp_path):
    proc = timbrel("live", str(trained_bundle()), "--realtime")
    assert proc.returncode == 2 and "--realtime needs --input-file" in proc.stderr
    bad = tmp_path / "bad.timbrel.json"
    bad.write_text("{not json")
    proc = timbrel("live", str(bad), "--input-file", str(bad))
    assert proc.returncode == 1 and "not a Timbrel model bundle" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
    proc = timbrel("live", str(trained_bundle()), "--input-file", str(bad))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
