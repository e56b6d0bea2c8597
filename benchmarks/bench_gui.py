"""How long does the GUI's event loop stall while Timbrel analyses and trains? (prints figures)

A 2 ms QTimer records the longest gap between its ticks while the real window analyses all of
assets/train (78 notes) in the background, then trains the seed article's network (batch size 1)
for some fits while the live panel classifies a file at real-time pace. Target: < 50 ms.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py [--fits 10]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


class StallMeter:
    def __init__(self) -> None:
        self.clock, self.timer = QElapsedTimer(), QTimer(QApplication.instance())
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[int] = []
        self.last = 0

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.gaps.append(now - self.last)
        self.last = now

    def __enter__(self):
        self.clock.start()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()

    def report(self, what: str) -> str:
        g = np.asarray(self.gaps or [0])
        return (f"{what}: longest stall {g.max()} ms, p99 {np.percentile(g, 99):.0f} ms, "
                f"ticks {len(g)} over {self.clock.elapsed() / 1000:.1f} s, gaps > 50 ms: {(g > 50).sum()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="timbrel-bench-gui-"))
    os.environ["TIMBREL_HOME"] = str(home)
    app = QApplication(sys.argv[:1])
    from app.gui.main_window import MainWindow
    from app.project import Project

    settings = QSettings(str(home / "qt.ini"), QSettings.IniFormat)
    settings.setValue("dialogs", False)
    with StallMeter() as m:
        w = MainWindow(Project.create(home / "bench"), settings=settings)
        w.show()
        t0 = time.perf_counter()
        while not w.warmed:
            app.processEvents()
            time.sleep(0.001)
    print(m.report(f"start-up: loading the numba kernels in the background ({time.perf_counter() - t0:.1f} s)"))

    def wait(cond, timeout=600.0):  # noqa: E306
        t0 = time.monotonic()
        while not cond() and time.monotonic() - t0 < timeout:
            app.processEvents()
            time.sleep(0.001)

    for round_ in range(1, args.rounds + 1):
        print(f"round {round_}")
        if round_ > 1:
            w.set_project(Project.create(home / f"bench{round_}"))
        files = sorted((ROOT / "assets" / "train").rglob("*.flac"))
        with StallMeter() as m:
            t0 = time.perf_counter()
            w.import_paths([ROOT / "assets" / "train"], None)
            wait(lambda: not w.analysis_running())
            wait(lambda: False, 0.2)
        print(m.report(f"analysing {len(files)} files ({time.perf_counter() - t0:.1f} s)"))
        print(f"  {w.project.n_points()} points in {len(w.project.clips)} clips")

        tp = w.training_panel
        tp.apply_preset("Seed article (3 sigmoid)")  # batch size 1: the most epochs/s the GUI must plot
        tp.auto_stop.setChecked(False)
        with StallMeter() as m:
            t0 = time.perf_counter()
            w.start_training()
            wait(lambda: len(w._errors) >= args.fits)
            w.stop_training()
            wait(lambda: not w.training_running() and w.bundle is not None)
            wait(lambda: False, 0.3)
        n_epochs = len(tp.loss_points()[0])
        print(m.report(f"training {len(w._errors)} fits, {n_epochs} epochs plotted ({time.perf_counter() - t0:.1f} s)"))

        test = sorted((ROOT / "assets" / "test" / "fluidr3" / "trombone").glob("*.flac"))[0]
        w.live.start_file(test, realtime=True)
        with StallMeter() as m:
            t0 = time.perf_counter()
            wait(lambda: not w.live.is_running())
        print(m.report(f"the live panel classifying a file in real time ({time.perf_counter() - t0:.1f} s)"))
        w.live.start_file(test, realtime=True)
        with StallMeter() as m:
            t0 = time.perf_counter()
            w.start_training()
            wait(lambda: not w.live.is_running())
            seconds = time.perf_counter() - t0
            w.stop_training()
            wait(lambda: not w.training_running())
        print(m.report(f"training while the live panel classifies a file in real time ({seconds:.1f} s)"))
        print(f"  live panel decisions seen: {w.live.decisions_seen}")
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
