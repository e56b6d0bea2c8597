"""Live classification: device selector, level meter, pitch trace, the class in large type, and a
confidence bar per class.

The audio stream and the classifier run in dsp.live's worker thread; this panel only drains the
worker's Decision queue from a QTimer (every 33 ms, so the display updates at ~30 Hz) and draws the
latest state. With no input device the panel says so and everything else keeps working.
"""
from __future__ import annotations

import math
import queue
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import live_backend

TRACE_SECONDS = 10.0
CONFIDENCE_BANDS = ((-1.0, 0.5), (0.5, 0.8), (0.8, 2.0))  # faint, medium, dark dots
POLL_MS = 33


class LivePanel(QWidget):
    status = Signal(str)  # plain-words messages for the status bar

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._classifier: Any = None
        self._colours: dict[str, str] = {}
        self._session: live_backend.LiveSession | None = None
        self.decisions_seen = 0
        self.last_decision: Any = None
        self._shown = 0

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QLabel("<b>Live</b>"))
        dev_row = QHBoxLayout()
        self.device = QComboBox()
        self.device.setMinimumWidth(160)
        self.refresh_btn = QPushButton("↻")
        self.refresh_btn.setToolTip("Look for input devices again")
        self.refresh_btn.setMaximumWidth(30)
        dev_row.addWidget(QLabel("Input"))
        dev_row.addWidget(self.device, 1)
        dev_row.addWidget(self.refresh_btn)
        lay.addLayout(dev_row)
        btn_row = QHBoxLayout()
        self.listen_btn = QPushButton("Listen")
        self.listen_btn.setToolTip("Classify the chosen input live (L)")
        self.file_btn = QPushButton("Play a file…")
        self.file_btn.setToolTip("Feed an audio file through the live path, at real-time pace")
        btn_row.addWidget(self.listen_btn)
        btn_row.addWidget(self.file_btn)
        lay.addLayout(btn_row)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #D55E00;")
        lay.addWidget(self.message)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #666666;")
        lay.addWidget(self.hint)

        meter_row = QHBoxLayout()
        meter_row.addWidget(QLabel("Level"))
        self.meter = QProgressBar()
        self.meter.setRange(-60, 0)
        self.meter.setValue(-60)
        self.meter.setFormat("%v dB")
        self.meter.setTextVisible(True)
        meter_row.addWidget(self.meter, 1)
        lay.addLayout(meter_row)

        self.label = QLabel("—")
        f = QFont()
        f.setPointSize(30)
        f.setBold(True)
        self.label.setFont(f)
        self.label.setAlignment(Qt.AlignCenter)
        self.label.setMinimumHeight(64)
        lay.addWidget(self.label)
        self.detail = QLabel("")
        self.detail.setAlignment(Qt.AlignCenter)
        lay.addWidget(self.detail)

        self.bars_box = QWidget()
        self.bars_grid = QGridLayout(self.bars_box)
        self.bars_grid.setContentsMargins(0, 0, 0, 0)
        self.bars: dict[str, QProgressBar] = {}
        lay.addWidget(self.bars_box)

        self.trace = pg.PlotWidget(background="w")
        self.trace.setLabel("left", "pitch (MIDI)")
        self.trace.setLabel("bottom", "seconds")
        self.trace.setMouseEnabled(x=False, y=False)
        self.trace.setYRange(36, 96)
        self.trace.setXRange(-TRACE_SECONDS, 0, padding=0)  # fixed: the axes never need re-laying out
        self.trace.getPlotItem().vb.disableAutoRange()
        self.trace.showGrid(x=True, y=True, alpha=0.2)
        self.trace_items = []
        for alpha in (60, 140, 255):
            item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(0, 114, 178, alpha))
            self.trace.addItem(item)
            self.trace_items.append(item)
        lay.addWidget(self.trace, 1)
        self._trace: deque[tuple[float, float, float]] = deque(maxlen=2000)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.listen_btn.clicked.connect(self.toggle_listen)
        self.file_btn.clicked.connect(self._choose_file)
        self.refresh_btn.clicked.connect(self.refresh_devices)
        self.refresh_devices()

    # ---------------------------------------------------------------- devices
    def refresh_devices(self) -> None:
        self.device.clear()
        try:
            devices = live_backend.input_devices()
        except Exception as e:  # noqa: BLE001 - "no input device" is a state, not a crash
            devices = []
            reason = str(e)
        else:
            reason = ""
        for d in devices:
            mark = "  (default)" if d.is_default and d.name != "default" else ""
            self.device.addItem(d.name + mark, d.index)
            if d.is_default:
                self.device.setCurrentIndex(self.device.count() - 1)
        has = bool(devices)
        self.device.setEnabled(has)
        self.listen_btn.setEnabled(has or self.is_running())
        if not has:
            self.device.addItem("No input device")
            self.message.setText(
                "No input device found, so live listening and recording are off. "
                "Everything else works; you can still play a file through the live path."
                + (f"\n({reason})" if reason else "")
            )
        else:
            self.message.setText("")

    def has_device(self) -> bool:
        return self.device.isEnabled() and self.device.currentData() is not None

    # ---------------------------------------------------------------- classifier
    def set_classifier(self, classifier: Any, colours: dict[str, str]) -> None:
        """Use this bundle from the next start (and now, if running, by restarting)."""
        self._classifier = classifier
        self._colours = dict(colours)
        labels = list(getattr(classifier, "labels", []) or []) if classifier is not None else []
        self._build_bars(labels)
        self.hint.setText("" if classifier is not None else
                          "Train a model (or open a project that has one), then press Listen.")
        if self.is_running() and self._session.source_desc[0] == "device":
            # Listening to a device: switch to the new model now. A file keeps its model to the end.
            src = self._session.source_desc
            self.stop()
            self._start(src)

    def _build_bars(self, labels: list[str]) -> None:
        for i in reversed(range(self.bars_grid.count())):
            w = self.bars_grid.itemAt(i).widget()
            if w is not None:
                w.deleteLater()
        self.bars = {}
        for row, name in enumerate(labels):
            lab = QLabel(name)
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(0)
            bar.setFormat("%p%")
            colour = self._colours.get(name, "#888888")
            bar.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
            self.bars_grid.addWidget(lab, row, 0)
            self.bars_grid.addWidget(bar, row, 1)
            self.bars[name] = bar

    # ---------------------------------------------------------------- start / stop
    def is_running(self) -> bool:
        return self._session is not None

    def toggle_listen(self) -> None:
        if self.is_running():
            self.stop()
        else:
            self.start_device(self.device.currentData())

    def start_device(self, device: Any = None) -> bool:
        return self._start(("device", device))

    def start_file(self, path: str | Path, realtime: bool = True) -> bool:
        return self._start(("file", str(path), realtime))

    def _start(self, source: tuple) -> bool:
        self.stop()
        if self._classifier is None:
            self._say("Train a model first (or open a project that has one); then listen.")
            return False
        try:
            self._session = live_backend.LiveSession(source, self._classifier)
        except Exception as e:  # noqa: BLE001 - shown in plain words
            self._session = None
            self._say(f"Could not start live input: {e}")
            return False
        self._trace.clear()
        self.timer.start()
        self.listen_btn.setText("Stop")
        self.file_btn.setEnabled(False)
        self.message.setText("")
        what = "file " + Path(source[1]).name if source[0] == "file" else self.device.currentText()
        self.status.emit(f"Listening to {what}.")
        return True

    def stop(self) -> None:
        self.timer.stop()
        if self._session is not None:
            session, self._session = self._session, None
            session.close()
            self.poll_session(session)
        self.listen_btn.setText("Listen")
        self.file_btn.setEnabled(True)
        self.listen_btn.setEnabled(self.has_device())

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Play an audio file through the live path", "",
                                              "Audio (*.wav *.flac *.ogg *.mp3 *.aif *.aiff)")
        if path:
            self.start_file(path)

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.status.emit(text)

    # ---------------------------------------------------------------- decisions
    def poll(self) -> None:
        if self._session is None:
            return
        self.poll_session(self._session)
        if self._session is not None and self._session.ended():
            reason = self._session.end_reason()
            self.stop()
            if reason:
                self._say(reason)
            else:
                self.status.emit("Live input ended.")

    def poll_session(self, session: "live_backend.LiveSession") -> None:
        latest = None
        while True:
            try:
                d = session.queue.get_nowait()
            except queue.Empty:
                break
            if not hasattr(d, "probabilities"):
                continue  # an event, not a decision
            latest = d
            self.decisions_seen += 1
            if d.f0 is not None and math.isfinite(d.f0) and d.f0 > 0:
                self._trace.append((float(d.time), float(d.midi), float(d.confidence)))
        if latest is not None:
            self.show_decision(latest)

    def show_decision(self, d: Any) -> None:
        self.last_decision = d
        level = -60.0 if not math.isfinite(d.level_db) else max(-60.0, min(0.0, d.level_db))
        self.meter.setValue(int(level))
        if d.label is None:
            self.label.setText("—")
            self.label.setStyleSheet("color: #888888;")
        else:
            self.label.setText(str(d.label))
            self.label.setStyleSheet(f"color: {self._colours.get(d.label, '#000000')};")
        note = ""
        if d.f0 and math.isfinite(d.f0):
            note = f"{d.f0:.0f} Hz · MIDI {d.midi:.1f} · "
        latency = f" · latency {d.latency_s * 1000:.0f} ms" if math.isfinite(d.latency_s) else ""
        self.detail.setText(f"{note}confidence {d.confidence:.2f}{latency}")
        for name, bar in self.bars.items():
            bar.setValue(int(round(100 * float(d.probabilities.get(name, 0.0)))))
        self._shown += 1
        if self._trace and self._shown % 2 == 0:
            # The trace redraws at half the poll rate (~15 Hz): a plot repaint costs far more than
            # the label and bars, which keep the full ~30 Hz.
            arr = np.asarray(self._trace)
            t_end = arr[-1, 0]
            keep = arr[:, 0] >= t_end - TRACE_SECONDS
            arr = arr[keep]
            # Confident frames dark, doubtful ones faint: one item per band with a single brush
            # (a brush per point costs pyqtgraph a Python call per point, 30 times a second).
            x = arr[:, 0] - t_end
            for item, (lo, hi) in zip(self.trace_items, CONFIDENCE_BANDS):
                sel = (arr[:, 2] >= lo) & (arr[:, 2] < hi)
                item.setData(x=x[sel], y=arr[sel, 1])

    def shutdown(self) -> None:
        self.stop()
