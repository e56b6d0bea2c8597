"""Training controls, the live loss plot and the confusion matrix.

The panel only collects settings and draws; the main window owns the Trainer and its thread.
Parameters that keep the network (learn rate, momentum, batch size, max iterations, validation)
are announced with `params_changed` and applied at the next fit; the ones that define the network
(algorithm, hidden layers, activation, scaler) are announced with `network_changed`, and the main
window asks before it resets.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

# The seed article's network, and FluCoMa's MLPClassifier defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "Seed article (3 sigmoid)": dict(
        algorithm="mlp", hidden=[3], activation="sigmoid", max_iter=20, learn_rate=0.01,
        momentum=0.5, batch_size=1, validation=0.1,
    ),
    "FluCoMa defaults (3 3 relu)": dict(
        algorithm="mlp", hidden=[3, 3], activation="relu", max_iter=1000, learn_rate=0.01,
        momentum=0.5, batch_size=50, validation=0.2,
    ),
    "KNN (3 neighbours)": dict(algorithm="knn", num_neighbours=3),
}
CUSTOM = "Custom"


def _same(a: Any, b: Any) -> bool:
    if isinstance(b, float):
        return a is not None and abs(float(a) - b) < 1e-9
    if isinstance(b, (list, tuple)):
        return a is not None and list(a) == list(b)
    return a == b


NETWORK_KEYS = ("algorithm", "hidden", "activation", "scaler", "num_neighbours")
LIVE_KEYS = ("learn_rate", "momentum", "max_iter", "batch_size", "validation")


def parse_hidden(text: str) -> list[int]:
    parts = text.replace(",", " ").split()
    if not parts:
        raise ValueError("Hidden layers: give one size per layer, e.g. “3” or “8 8”.")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"Hidden layers: “{text}” is not a list of whole numbers.") from None
    if any(s < 1 for s in sizes):
        raise ValueError("Hidden layers: every layer needs at least one neuron.")
    return sizes


class TrainingPanel(QWidget):
    train_clicked = Signal()
    stop_clicked = Signal()
    params_changed = Signal(dict)  # keeps the network
    network_changed = Signal(dict)  # new settings that would reset the network
    matrix_cell_clicked = Signal(str, str)  # true class, predicted class
    clip_activated = Signal(str)  # clip id to play

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._network: dict[str, Any] = {}
        self._loading = False
        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)

        form_box = QWidget()
        form_box.setMaximumWidth(300)
        fl = QVBoxLayout(form_box)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(QLabel("<b>Training</b>"))
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.algorithm = QComboBox()
        self.algorithm.addItem("MLP (neural network)", "mlp")
        self.algorithm.addItem("KNN (nearest neighbours)", "knn")
        self.hidden = QLineEdit()
        self.hidden.setToolTip("Neurons per hidden layer, e.g. “3” or “8 8”. Changing it starts a new network.")
        self.activation = QComboBox()
        self.activation.addItems(["sigmoid", "relu", "tanh", "identity"])
        self.learn_rate = QDoubleSpinBox(decimals=5, minimum=0.00001, maximum=10.0, singleStep=0.001)
        self.momentum = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=0.999, singleStep=0.05)
        self.max_iter = QSpinBox(minimum=1, maximum=100000)
        self.max_iter.setToolTip("Epochs per fit")
        self.batch_size = QSpinBox(minimum=1, maximum=100000)
        self.validation = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.05)
        self.scaler = QComboBox()
        self.scaler.addItems(["standardize", "normalize", "robust", "none"])
        self.neighbours = QSpinBox(minimum=1, maximum=100)
        self.auto_stop = QCheckBox("Stop at plateau")
        self.auto_stop.setChecked(True)
        form.addRow("Preset", self.preset)
        form.addRow("Algorithm", self.algorithm)
        form.addRow("Hidden layers", self.hidden)
        form.addRow("Activation", self.activation)
        form.addRow("Learn rate", self.learn_rate)
        form.addRow("Momentum", self.momentum)
        form.addRow("Epochs per fit", self.max_iter)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Validation", self.validation)
        form.addRow("Scaler", self.scaler)
        form.addRow("Neighbours", self.neighbours)
        form.addRow("", self.auto_stop)
        fl.addLayout(form)
        self.train_btn = QPushButton("Train")
        self.train_btn.setToolTip("Fit again and again until Stop or a plateau (Ctrl+T)")
        self.train_btn.setMinimumHeight(32)
        fl.addWidget(self.train_btn)
        self.status = QLabel("Not trained yet.")
        self.status.setWordWrap(True)
        fl.addWidget(self.status)
        self.plateau = QLabel("")
        self.plateau.setWordWrap(True)
        self.plateau.setStyleSheet("color: #009E73; font-weight: bold;")
        fl.addWidget(self.plateau)
        fl.addStretch(1)
        outer.addWidget(form_box)

        self.tabs = QTabWidget()
        self.loss_plot = pg.PlotWidget(background="w")
        self.loss_plot.setLabel("bottom", "epoch")
        self.loss_plot.setLabel("left", "error (log scale)")
        self.loss_plot.setLogMode(y=True)  # errors fall by orders of magnitude; a linear axis hides it
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_plot.addLegend(offset=(-10, 10))
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#0072B2", width=2), name="training")
        self.val_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#D55E00", width=2), name="validation")
        for c in (self.train_curve, self.val_curve):
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
        self.tabs.addTab(self.loss_plot, "Loss")
        cm = QWidget()
        cml = QVBoxLayout(cm)
        self.matrix_title = QLabel("Train to see how the held-out clips are classified.")
        self.matrix_title.setWordWrap(True)
        self.matrix = QTableWidget(0, 0)
        self.matrix.setEditTriggers(QTableWidget.NoEditTriggers)
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.matrix_clips = QListWidget()
        self.matrix_clips.setMaximumHeight(90)
        cml.addWidget(self.matrix_title)
        cml.addWidget(self.matrix, 1)
        cml.addWidget(QLabel("Clips in the chosen cell (double-click to play):"))
        cml.addWidget(self.matrix_clips)
        self.tabs.addTab(cm, "Confusion matrix")
        outer.addWidget(self.tabs, 1)

        # Loss history in a growable array (columns: epoch, training, validation): long runs at
        # batch size 1 reach 10^5 epochs, and re-converting Python lists 30 times a second would stall.
        self._hist = np.zeros((1024, 3))
        self._n = 0
        self._classes: list[str] = []

        self.preset.activated.connect(self._preset_chosen)
        self.train_btn.clicked.connect(self._train_or_stop)
        for w in (self.learn_rate, self.momentum, self.validation):
            w.valueChanged.connect(self._params_edited)
        for w in (self.max_iter, self.batch_size):
            w.valueChanged.connect(self._params_edited)
        self.hidden.editingFinished.connect(self._network_edited)
        self.activation.currentIndexChanged.connect(self._network_edited)
        self.algorithm.currentIndexChanged.connect(self._network_edited)
        self.scaler.currentIndexChanged.connect(self._network_edited)
        self.neighbours.valueChanged.connect(self._network_edited)
        self.matrix.cellClicked.connect(self._cell_clicked)
        self.matrix_clips.itemDoubleClicked.connect(
            lambda it: self.clip_activated.emit(it.data(Qt.UserRole))
        )
        self._running = False
        self.apply_preset(next(iter(PRESETS)))

    # ---------------------------------------------------------------- settings
    def settings(self) -> dict[str, Any]:
        """The current settings as TrainSettings keywords; raises ValueError for a bad field."""
        return dict(
            algorithm=self.algorithm.currentData(),
            hidden=parse_hidden(self.hidden.text()),
            activation=self.activation.currentText(),
            learn_rate=self.learn_rate.value(),
            momentum=self.momentum.value(),
            max_iter=self.max_iter.value(),
            batch_size=self.batch_size.value(),
            validation=self.validation.value(),
            scaler=self.scaler.currentText(),
            num_neighbours=self.neighbours.value(),
            until_plateau=self.auto_stop.isChecked(),
        )

    def set_settings(self, s: dict[str, Any]) -> None:
        """Show `s` without announcing it (loading a project or a preset)."""
        self._loading = True
        try:
            if "algorithm" in s:
                self.algorithm.setCurrentIndex(max(0, self.algorithm.findData(s["algorithm"])))
            if "hidden" in s:
                self.hidden.setText(" ".join(str(int(h)) for h in s["hidden"]))
            if "activation" in s:
                self.activation.setCurrentText(s["activation"])
            for key, w in (("learn_rate", self.learn_rate), ("momentum", self.momentum),
                           ("validation", self.validation)):
                if key in s:
                    w.setValue(float(s[key]))
            for key, w in (("max_iter", self.max_iter), ("batch_size", self.batch_size),
                           ("num_neighbours", self.neighbours)):
                if key in s:
                    w.setValue(int(s[key]))
            if "scaler" in s:
                self.scaler.setCurrentText(s["scaler"])
            if "until_plateau" in s:
                self.auto_stop.setChecked(bool(s["until_plateau"]))
        finally:
            self._loading = False
        self._update_enabled()
        self._sync_preset()

    def _sync_preset(self) -> None:
        """Name the preset the fields match, or "Custom", so the combo never claims what isn't so."""
        current = self._safe_settings()
        match = next((name for name, p in PRESETS.items()
                      if all(_same(current.get(k), v) for k, v in p.items())), CUSTOM)
        if self.preset.findText(CUSTOM) < 0 and match == CUSTOM:
            self.preset.addItem(CUSTOM)
        self.preset.setCurrentText(match)

    def _preset_chosen(self, _index: int) -> None:
        if self.preset.currentText() in PRESETS:
            self.apply_preset(self.preset.currentText())

    def apply_preset(self, name: str) -> None:
        preset = PRESETS[name]
        before = self._network_part()
        self.set_settings(preset)
        self.preset.setCurrentText(name)
        if self._network_part() != before and self._network:
            self.network_changed.emit(self._network_part())
        else:
            self.params_changed.emit({k: self._safe_settings().get(k) for k in LIVE_KEYS})

    def set_network(self, network: dict[str, Any]) -> None:
        """Record the network-defining settings the current model was built with."""
        self._network = dict(network)

    def network_part(self) -> dict[str, Any]:
        return self._network_part()

    def _safe_settings(self) -> dict[str, Any]:
        try:
            return self.settings()
        except ValueError:
            return {}

    def _network_part(self) -> dict[str, Any]:
        s = self._safe_settings()
        return {k: s.get(k) for k in NETWORK_KEYS}

    def _params_edited(self) -> None:
        if not self._loading:
            self._sync_preset()
            s = self.settings()
            self.params_changed.emit({k: s[k] for k in LIVE_KEYS})

    def _network_edited(self) -> None:
        self._update_enabled()
        if self._loading:
            return
        self._sync_preset()
        try:
            self.settings()
        except ValueError as e:
            self.status.setText(str(e))
            self.set_settings(self._network or {"hidden": [3]})
            return
        if self._network_part() != self._network:
            self.network_changed.emit(self._network_part())

    def revert_network(self) -> None:
        """The user said no to a reset: show the network's settings again."""
        if self._network:
            self.set_settings(self._network)

    def _update_enabled(self) -> None:
        mlp = self.algorithm.currentData() == "mlp"
        for w in (self.hidden, self.activation, self.learn_rate, self.momentum, self.max_iter,
                  self.batch_size, self.validation, self.auto_stop):
            w.setEnabled(mlp)
        self.neighbours.setEnabled(not mlp)

    # ---------------------------------------------------------------- running state
    def set_running(self, running: bool) -> None:
        self._running = running
        self.train_btn.setText("Stop" if running else "Train")

    def _train_or_stop(self) -> None:
        (self.stop_clicked if self._running else self.train_clicked).emit()

    # ---------------------------------------------------------------- loss plot
    def show_plateau(self, reached: bool) -> None:
        self.plateau.setText("Plateau: the error has stopped falling; more fits won't help much."
                             if reached else "")

    def clear_loss(self) -> None:
        self.plateau.setText("")
        self._n = 0
        self.train_curve.setData([], [])
        self.val_curve.setData([], [])

    def add_epochs(self, points: list[tuple[int, float, float]]) -> None:
        if not points:
            return
        new = np.asarray(points, dtype=float).reshape(-1, 3)
        last = self._hist[self._n - 1, 0] if self._n else 0.0
        if self._n and new[0, 0] <= last:  # a new Trainer counts from 1 again: keep x increasing
            new[:, 0] += last
        while self._n + len(new) > len(self._hist):
            self._hist = np.vstack([self._hist, np.zeros_like(self._hist)])
        self._hist[self._n:self._n + len(new)] = new
        self._n += len(new)
        h = self._hist[: self._n]
        floor = 1e-6  # log axis: an error of exactly 0 is drawn at the floor
        self.train_curve.setData(h[:, 0], np.maximum(h[:, 1], floor))
        ok = np.isfinite(h[:, 2])
        self.val_curve.setData(h[ok, 0], np.maximum(h[ok, 2], floor))

    def loss_points(self) -> tuple[list[float], list[float], list[float]]:
        h = self._hist[: self._n]
        return h[:, 0].tolist(), h[:, 1].tolist(), h[:, 2].tolist()

    # ---------------------------------------------------------------- confusion matrix
    def show_matrix(self, classes: list[str], confusion: np.ndarray, accuracy: float, n_clips: int,
                    colours: dict[str, str]) -> None:
        self._classes = list(classes)
        self.matrix.clear()
        self.matrix.setRowCount(len(classes))
        self.matrix.setColumnCount(len(classes))
        self.matrix.setHorizontalHeaderLabels([f"→ {c}" for c in classes])
        self.matrix.setVerticalHeaderLabels(classes)
        peak = max(1, int(confusion.max()) if confusion.size else 1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                n = int(confusion[i, j])
                it = QTableWidgetItem(str(n))
                it.setTextAlignment(Qt.AlignCenter)
                shade = QColor("#009E73" if i == j else "#D55E00")
                shade.setAlpha(int(30 + 200 * n / peak) if n else 0)
                it.setBackground(shade)
                self.matrix.setItem(i, j, it)
        acc = "—" if math.isnan(accuracy) else f"{accuracy:.0%}"
        self.matrix_title.setText(
            f"Held-out clips: {n_clips}, correct {acc}. Rows: true class; columns: what the model said."
        )
        self.matrix_clips.clear()

    def show_cell_clips(self, clips: list[tuple[str, str]]) -> None:
        self.matrix_clips.clear()
        for cid, text in clips:
            it = QListWidgetItem(text)
            it.setData(Qt.UserRole, cid)
            self.matrix_clips.addItem(it)

    def _cell_clicked(self, row: int, col: int) -> None:
        if 0 <= row < len(self._classes) and 0 <= col < len(self._classes):
            self.matrix_cell_clicked.emit(self._classes[row], self._classes[col])
