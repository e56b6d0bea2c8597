"""Live path figures on a real PortAudio stream (virtual sound card), fed with the demo notes.

    source scripts/virtual-soundcard start
    .venv/bin/python benchmarks/bench_live.py [--seconds 300] [--quiet-seconds 30] [--blocksize 256]

Two phases, each on a fresh stream at the spec's rate while the bundled test notes loop into a null
sink of our own (paplay), so the worker analyses real instrument audio:
  quiet   only the live path runs: CPU use as a share of one core (whole process, and the worker thread)
  loaded  an MLP trains at full speed in another thread (repeated fits on the demo DataSet): overflows
Both print decision latency (mean, p95; from the moment a frame's last sample enters the callback to
the decision being published) and callback duration (p99) as a share of the block period.
Targets (issue 5): latency p95 < 10 ms beyond the frame itself, callback p99 < 5 %, 0 overflows,
CPU < 15 % of one core.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def thread_cpu(native_id: int) -> float:
    """CPU seconds (user + system) a thread of this process has used, from /proc."""
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_bundle(model: Path | None):
    from app.bundle import Bundle
    if model is not None:
        return Bundle.load(model)
    out = Path(tempfile.mkdtemp(prefix="bench-live-")) / "demo.timbrel.json"
    print("training a demo model on assets/train ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "app.cli", "train", str(ROOT / "assets" / "train"), "--out", str(out),
                    "--seed", "0"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return Bundle.load(out)


def notes_file(sr: int) -> Path:
    """Every test note back to back with short gaps (about 50 s of trombone and oboe)."""
    from dsp.audio import load
    parts = []
    for path in sorted((ROOT / "assets" / "test").rglob("*.flac")):
        parts += [load(path, sr), np.zeros(sr // 4, np.float32)]
    out = Path(tempfile.mkdtemp(prefix="bench-live-")) / "notes.wav"
    sf.write(out, np.concatenate(parts), sr, subtype="FLOAT")
    return out


class Player:
    """Loops a file into a private null sink; PortAudio's default input records its monitor."""

    def __init__(self, path: Path) -> None:
        self.sink = f"timbrel_bench_{os.getpid()}"
        out = subprocess.run(["pactl", "load-module", "module-null-sink", f"sink_name={self.sink}", "rate=48000"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"bench_live: the virtual sound card is not running ({out.stderr.strip()}); "
                     "source scripts/virtual-soundcard start")
        self.module = out.stdout.strip()
        os.environ["PULSE_SOURCE"] = f"{self.sink}.monitor"
        self.path, self._stop = path, threading.Event()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._proc = subprocess.Popen(["paplay", f"--device={self.sink}", str(self.path)])
            self._proc.wait()

    def close(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.kill()
        self._thread.join()
        subprocess.run(["pactl", "unload-module", self.module], capture_output=True)


def start_training(stop: threading.Event) -> threading.Thread:
    from app.analysis import analyse_paths
    from app.demo import demo_settings
    from app.training import Trainer
    from dsp.features import FeatureSpec
    from app.demo import DEMO_FEATURES
    data = analyse_paths([ROOT / "assets" / "train"], FeatureSpec(features=DEMO_FEATURES))
    trainer = Trainer(data.dataset, data.labels, demo_settings(fits=10**9))
    fits = [0]

    def run() -> None:
        trainer.on_fit = lambda report: fits.__setitem__(0, report.fit)
        threading.Thread(target=lambda: (stop.wait(), trainer.stop()), daemon=True).start()
        trainer.run()

    t = threading.Thread(target=run, name="bench-training", daemon=True)
    t.fits = fits  # type: ignore[attr-defined]
    t.start()
    return t


def run_phase(name: str, bundle, seconds: float, blocksize: int, train: bool, switch: float | None) -> dict:
    from dsp.live import LiveInput, LiveWorker
    spec = bundle.spec
    stop_training = threading.Event()
    trainer = start_training(stop_training) if train else None
    source = LiveInput(None, spec.sr, blocksize, gil_switch_interval=switch)
    worker = LiveWorker(source, bundle)
    q = worker.subscribe(maxsize=100)  # a reader, as the GUI would be
    worker.start()
    while source.ring.written == 0:
        time.sleep(0.01)
    time.sleep(1.0)  # let numba-cached kernels load and the first frames settle before measuring
    wall0, cpu0, wcpu0 = time.perf_counter(), time.process_time(), thread_cpu(worker._thread.native_id)
    n0, lat0, w0 = worker.stats.decisions, len(worker.stats.latencies), len(worker.stats.waits)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and worker.running:
        while not q.empty():
            q.get_nowait()
        time.sleep(0.05)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    wcpu = thread_cpu(worker._thread.native_id) - wcpu0
    overflows, stream_latency = source.overflows, source.stream_latency
    durations, delays = source.callback_durations(), source.callback_delays()
    worker.stop()
    stop_training.set()
    if trainer is not None:
        trainer.join()
    waits = np.array(list(worker.stats.waits)[w0:], dtype=float)
    proc = np.array(list(worker.stats.processing)[w0:], dtype=float)
    lat = np.array(list(worker.stats.latencies)[lat0:], dtype=float)
    newest = np.array(list(worker.stats.since_newest)[lat0:], dtype=float)
    newest = newest[np.isfinite(newest)]
    lat = lat[np.isfinite(lat)]
    lag_s = spec.pitch_lag * spec.hop_length / spec.sr  # the live features' decoding lag
    period = blocksize / source.samplerate
    return dict(phase=name, seconds=wall, decisions=worker.stats.decisions - n0, overflows=overflows,
                input_overflows=source.input_overflows, ring_overflows=source.ring.overflows,
                new_mean=newest.mean(), new_p95=np.percentile(newest, 95), lat_mean=lat.mean(), lat_p95=np.percentile(lat, 95), lag_s=lag_s,
                wait_p95=np.percentile(waits[np.isfinite(waits)], 95), wait_mean=np.nanmean(waits),
                proc_p95=np.percentile(proc, 95), proc_mean=proc.mean(),
                cb_p99=np.percentile(durations, 99), delay_p50=np.percentile(delays, 50),
                delay_p99=np.percentile(delays, 99), cb_max=durations.max(), period=period,
                cpu_process=cpu / wall, cpu_worker=wcpu / wall, ended=worker.ended,
                fits=trainer.fits[0] if trainer is not None else None, stream_latency=stream_latency)


def report(r: dict) -> None:
    ms = 1000
    print(f"\n== {r['phase']}: {r['seconds']:.0f} s, {r['decisions']} decisions"
          + (f", MLP fits completed alongside: {r['fits']}" if r["fits"] is not None else ""))
    print(f"decision latency   mean {r['lat_mean'] * ms:6.1f} ms   p95 {r['lat_p95'] * ms:6.1f} ms   "
          f"(of which the pitch tracker's decoding lag is {r['lag_s'] * ms:.1f} ms of audio)")
    print(f"  beyond the lag   from the sample that let the tracker decide the frame entering the callback "
          f"to publishing: mean {r['new_mean'] * ms:.1f} ms, p95 {r['new_p95'] * ms:.1f} ms")
    print(f"  where it goes    callback → worker reads it: mean {r['wait_mean'] * ms:.1f} ms, p95 "
          f"{r['wait_p95'] * ms:.1f} ms; analysis + model + publish per read: mean {r['proc_mean'] * ms:.1f} ms, "
          f"p95 {r['proc_p95'] * ms:.1f} ms")
    print(f"callback duration  p99 {r['cb_p99'] * 1e6:6.1f} us = {r['cb_p99'] / r['period']:.2%} of the "
          f"{r['period'] * ms:.1f} ms block period (max {r['cb_max'] * 1e6:.0f} us)")
    print(f"callback start     p50 {r['delay_p50'] * ms:.2f} ms, p99 {r['delay_p99'] * ms:.2f} ms after PortAudio "
          "calls it (waiting for the GIL; not part of the duration above)")
    print(f"overflows          {r['overflows']} (device {r['input_overflows']}, ring {r['ring_overflows']})")
    print(f"CPU                {r['cpu_process']:.1%} of one core (whole process), worker thread "
          f"{r['cpu_worker']:.1%}")
    print(f"stream             input latency reported by PortAudio {r['stream_latency'] * ms:.1f} ms; "
          f"ended: {r['ended']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=300.0, help="length of the loaded phase (default 300)")
    ap.add_argument("--quiet-seconds", type=float, default=30.0, help="length of the quiet phase (default 30)")
    ap.add_argument("--blocksize", type=int, default=256)
    ap.add_argument("--switch-interval", type=float, default=0.001,
                    help="LiveInput's gil_switch_interval in seconds; 0 leaves Python's 5 ms alone (default 0.001)")
    ap.add_argument("--model", type=Path, default=None, help="a bundle (default: train one on assets/train)")
    args = ap.parse_args(argv)
    if not os.environ.get("XDG_RUNTIME_DIR"):
        sys.exit("bench_live: XDG_RUNTIME_DIR is not set; source scripts/virtual-soundcard start")
    bundle = make_bundle(args.model)
    player = Player(notes_file(bundle.spec.sr))
    try:
        switch = args.switch_interval or None
        results = [run_phase("quiet (live path only)", bundle, args.quiet_seconds, args.blocksize, False, switch),
                   run_phase("loaded (MLP training in another thread)", bundle, args.seconds, args.blocksize, True,
                             switch)]
    finally:
        player.close()
    print(f"\nblocksize {args.blocksize}, switch interval {args.switch_interval * 1000:g} ms, {bundle.spec.sr} Hz, hop {bundle.spec.hop_length}, frame "
          f"{bundle.spec.frame_length}, features {','.join(bundle.spec.features)}, {os.cpu_count()} CPUs")
    for r in results:
        report(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
