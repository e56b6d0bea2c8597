"""Classes and their clips: a tree you drop audio onto, drag clips between, rename and colour.

The panel never edits the project itself; it emits what the user asked for and the main window
(which owns the project and the undo stack) does it, then calls `refresh()`.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.project import Project

CLASS_ROLE = Qt.UserRole + 1  # class name on every item
CLIP_ROLE = Qt.UserRole + 2  # clip id on clip items


def swatch(colour: str, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(colour))
    return QIcon(pm)


def plain_reason(reason: str, limit: int = 160) -> str:
    """One short line for the problems list: no terminal colour codes, long internals cut."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(reason)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ClipTree(QTreeWidget):
    """Accepts file/folder drops from the file manager and internal clip drags onto classes."""

    files_dropped = Signal(list, object)  # paths, class name or None (= name of each file's folder)
    clips_moved = Signal(list, str)  # clip ids, target class

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderLabels(["Class / clip", "Length", "Frames"])
        self.setColumnWidth(0, 190)
        self.setColumnWidth(1, 55)
        self.setAcceptDrops(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDrop)
        self.setDefaultDropAction(Qt.MoveAction)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setRootIsDecorated(True)

    def _class_at(self, pos) -> str | None:
        item = self.itemAt(pos)
        return None if item is None else item.data(0, CLASS_ROLE)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.source() is self:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        elif event.source() is self and self._class_at(event.position().toPoint()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        target = self._class_at(event.position().toPoint())
        md = event.mimeData()
        if md.hasUrls():
            paths = [Path(u.toLocalFile()) for u in md.urls() if u.isLocalFile()]
            event.acceptProposedAction()
            if paths:
                self.files_dropped.emit(paths, target)
            return
        if event.source() is self and target is not None:
            ids = [it.data(0, CLIP_ROLE) for it in self.selectedItems() if it.data(0, CLIP_ROLE)]
            # We rebuild the tree from the project ourselves; don't let Qt move items around.
            event.setDropAction(Qt.IgnoreAction)
            event.accept()
            if ids:
                self.clips_moved.emit(ids, target)
            return
        event.ignore()


class ClassesPanel(QWidget):
    add_class = Signal()
    rename_class = Signal(str)
    colour_class = Signal(str)
    delete_selected = Signal()
    play_clip = Signal(str)
    record = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Classes and clips</b>")
        hint = QLabel("Drop audio files or folders here (a folder's name becomes its class).")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        self.tree = ClipTree(self)
        row1 = QHBoxLayout()
        self.add_btn = QPushButton("+ Class")
        self.rename_btn = QPushButton("Rename")
        self.colour_btn = QPushButton("Colour")
        for b in (self.add_btn, self.rename_btn, self.colour_btn):
            row1.addWidget(b)
        row2 = QHBoxLayout()
        self.record_btn = QPushButton("● Record")
        self.record_btn.setToolTip("Record a clip from the live input into the selected class (R)")
        self.play_btn = QPushButton("▶ Play")
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.setToolTip("Delete the selected clips or class (Del; undo with Ctrl+Z)")
        for b in (self.record_btn, self.play_btn, self.delete_btn):
            row2.addWidget(b)
        self.problems_label = QLabel("<b>Files that could not be used</b>")
        self.problems = QListWidget(self)
        self.problems.setMaximumHeight(110)
        self.problems.setWordWrap(True)
        self.problems_label.hide()
        self.problems.hide()
        lay.addWidget(title)
        lay.addWidget(hint)
        lay.addWidget(self.tree, 1)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addWidget(self.problems_label)
        lay.addWidget(self.problems)

        self.add_btn.clicked.connect(self.add_class)
        self.rename_btn.clicked.connect(lambda: self._emit_for_class(self.rename_class))
        self.colour_btn.clicked.connect(lambda: self._emit_for_class(self.colour_class))
        self.delete_btn.clicked.connect(self.delete_selected)
        self.play_btn.clicked.connect(self._play)
        self.record_btn.clicked.connect(self.record)
        self.tree.itemDoubleClicked.connect(self._double_clicked)

    # ---------------------------------------------------------------- state
    def selected_class(self) -> str | None:
        items = self.tree.selectedItems()
        if items:
            return items[0].data(0, CLASS_ROLE)
        cur = self.tree.currentItem()
        return None if cur is None else cur.data(0, CLASS_ROLE)

    def selected_clips(self) -> list[str]:
        return [it.data(0, CLIP_ROLE) for it in self.tree.selectedItems() if it.data(0, CLIP_ROLE)]

    def selected_classes(self) -> list[str]:
        return [
            it.data(0, CLASS_ROLE)
            for it in self.tree.selectedItems()
            if it.data(0, CLIP_ROLE) is None and it.data(0, CLASS_ROLE)
        ]

    def class_item(self, name: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            if it.data(0, CLASS_ROLE) == name:
                return it
        return None

    def clip_item(self, clip_id: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount()):
                if top.child(j).data(0, CLIP_ROLE) == clip_id:
                    return top.child(j)
        return None

    def refresh(self, project: Project) -> None:
        """Rebuild the tree from the project, keeping expansion and selection."""
        expanded = {
            self.tree.topLevelItem(i).data(0, CLASS_ROLE)
            for i in range(self.tree.topLevelItemCount())
            if self.tree.topLevelItem(i).isExpanded()
        }
        first = self.tree.topLevelItemCount() == 0
        sel_class = self.selected_class()
        sel_clips = set(self.selected_clips())
        self.tree.clear()
        for info in project.classes:
            clips = project.clips_of(info.name)
            frames = sum(c.frames for c in clips)
            top = QTreeWidgetItem([f"{info.name}  ({len(clips)})", "", str(frames)])
            top.setIcon(0, swatch(info.colour))
            top.setData(0, CLASS_ROLE, info.name)
            f = top.font(0)
            f.setBold(True)
            top.setFont(0, f)
            top.setToolTip(0, f"{len(clips)} clips, {frames} usable frames")
            self.tree.addTopLevelItem(top)
            for c in clips:
                dur = "" if math.isnan(c.duration) else f"{c.duration:.1f} s"
                child = QTreeWidgetItem([c.source or Path(c.file).name, dur, str(c.frames)])
                child.setData(0, CLASS_ROLE, info.name)
                child.setData(0, CLIP_ROLE, c.id)
                child.setToolTip(0, f"{c.source} → {c.file}\nDouble-click to play")
                if c.frames == 0:
                    child.setForeground(2, QBrush(QColor("#D55E00")))
                top.addChild(child)
                if c.id in sel_clips:
                    child.setSelected(True)
            top.setExpanded(first or info.name in expanded)
            if info.name == sel_class and not sel_clips:
                top.setSelected(True)

    def show_problems(self, failures: list[tuple[Path, str]]) -> None:
        for path, reason in failures:
            text = plain_reason(reason)
            # The list already names the file; drop a leading "<full path>: " from the reason.
            for prefix in (f"{path}: ", f"{Path(path).resolve()}: "):
                if text.startswith(prefix):
                    text = text[len(prefix):]
            self.problems.addItem(f"{Path(path).name}: {text}")
            self.problems.item(self.problems.count() - 1).setToolTip(f"{path}\n{text}")
        visible = self.problems.count() > 0
        self.problems_label.setVisible(visible)
        self.problems.setVisible(visible)
        self.problems.scrollToBottom()

    # ---------------------------------------------------------------- internals
    def _emit_for_class(self, signal) -> None:
        name = self.selected_class()
        if name:
            signal.emit(name)

    def _play(self) -> None:
        clips = self.selected_clips()
        if clips:
            self.play_clip.emit(clips[0])

    def _double_clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        cid = item.data(0, CLIP_ROLE)
        if cid:
            self.play_clip.emit(cid)
        elif item.data(0, CLASS_ROLE):
            self.rename_class.emit(item.data(0, CLASS_ROLE))
