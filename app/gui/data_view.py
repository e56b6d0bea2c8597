"""The DataSet as a scatter, coloured by class, like FluCoMa's plotter.

Pitch against confidence by default; any two feature columns can be chosen. Hovering a point names
its clip and frame; clicking it asks the main window to play that moment.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.project import Project, split_point_id

MAX_POINTS_PER_CLASS = 20000  # beyond this, plot an even subsample: the picture is the same


class DataView(QWidget):
    point_clicked = Signal(str, int)  # clip id, frame number

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Data</b>"))
        top.addStretch(1)
        top.addWidget(QLabel("x"))
        self.x_combo = QComboBox()
        top.addWidget(self.x_combo)
        top.addWidget(QLabel("y"))
        self.y_combo = QComboBox()
        top.addWidget(self.y_combo)
        for combo in (self.x_combo, self.y_combo):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
            combo.setMinimumContentsLength(10)
        lay.addLayout(top)
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-10, -10))  # bottom right: the emptiest corner
        lay.addWidget(self.plot, 1)
        self.info = QLabel("No data yet — drop some clips on a class.")
        lay.addWidget(self.info)
        self._items: dict[str, pg.ScatterPlotItem] = {}
        self._project: Project | None = None
        self._columns: list[str] = []
        self._drawn_revision = -1
        self.x_combo.currentIndexChanged.connect(self._redraw)
        self.y_combo.currentIndexChanged.connect(self._redraw)

    def point_count(self) -> int:
        """Points currently drawn (for tests and the status line)."""
        return sum(len(it.data) for it in self._items.values())

    def refresh(self, project: Project) -> None:
        # Redraw only when the data changed (refresh is also called for title/save-state updates).
        if project is self._project and project.revision == self._drawn_revision:
            return
        self._project = project
        if project.columns != self._columns:
            self._columns = list(project.columns)
            for combo, default in ((self.x_combo, "pitch"), (self.y_combo, "confidence")):
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(self._columns)
                if default in self._columns:
                    combo.setCurrentIndex(self._columns.index(default))
                combo.blockSignals(False)
            if len(self._columns) > 1 and self.x_combo.currentIndex() == self.y_combo.currentIndex():
                self.y_combo.setCurrentIndex(1)
        self._redraw()

    def _redraw(self) -> None:
        self._drawn_revision = self._project.revision if self._project is not None else -1
        self.plot.clear()
        self.legend.clear()
        self._items.clear()
        p = self._project
        if p is None or not p.columns or p.n_points() == 0:
            self.info.setText("No data yet — drop some clips on a class.")
            hint = pg.TextItem("Drop audio files or folders on a class (left)\n"
                               "— each analysed frame becomes a point here.", color="#666666", anchor=(0.5, 0.5))
            self.plot.addItem(hint)
            hint.setPos(0.5, 0.5)
            self.plot.setRange(xRange=(0, 1), yRange=(0, 1))
            return
        xi, yi = self.x_combo.currentIndex(), self.y_combo.currentIndex()
        if xi < 0 or yi < 0:
            return
        self.plot.enableAutoRange()  # the empty-state hint fixed the range; follow the data again
        ids, matrix, labels = p.points()
        labels_arr = np.asarray(labels)
        ids_arr = np.asarray(ids, dtype=object)
        for info in p.classes:
            mask = labels_arr == info.name
            n = int(mask.sum())
            if n == 0:
                continue
            sel = np.flatnonzero(mask)
            if n > MAX_POINTS_PER_CLASS:
                sel = sel[np.linspace(0, n - 1, MAX_POINTS_PER_CLASS).astype(int)]
            colour = pg.mkColor(info.colour)
            colour.setAlpha(170)
            item = pg.ScatterPlotItem(
                x=matrix[sel, xi],
                y=matrix[sel, yi],
                data=list(ids_arr[sel]),
                size=6,
                pen=None,
                brush=pg.mkBrush(colour),
                hoverable=True,
                hoverSize=10,
                hoverPen=pg.mkPen("k"),
                tip=self._tip,
                name=f"{info.name} ({n})",
            )
            item.sigClicked.connect(self._clicked)
            self.plot.addItem(item)
            self._items[info.name] = item
        self.plot.setLabel("bottom", self._columns[xi])
        self.plot.setLabel("left", self._columns[yi])
        self.info.setText(f"{p.n_points()} points from {len(p.clips)} clips in {len(p.classes)} classes")

    def _tip(self, x: float, y: float, data: str) -> str:
        clip, frame = split_point_id(str(data))
        name = clip
        if self._project is not None and clip in self._project.clips:
            c = self._project.clips[clip]
            name = f"{c.source or clip} ({c.label})"
        return f"{name}\nframe {frame}\n{self.x_combo.currentText()} = {x:.3g}, {self.y_combo.currentText()} = {y:.3g}"

    def _clicked(self, _item, points, _ev=None) -> None:
        if len(points):
            clip, frame = split_point_id(str(points[0].data()))
            self.point_clicked.emit(clip, frame)
