"""The main window: owns the project, the undo stack, and the analysis/training threads.

Panels emit what the user asked for; this window does it through app.project / app.analysis /
app.training / app.bundle (never re-implementing them), then refreshes the panels.
"""
from __future__ import annotations

import math
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
)

from app.gui.classes_panel import ClassesPanel
from app.gui.data_view import DataView
from app.gui.live_panel import LivePanel
from app.gui.training_panel import LIVE_KEYS, TrainingPanel
from app.gui.workers import AnalysisOutcome, AnalysisWorker, GuiQueue, TrainWorker, run_call
from app.project import (
    Project,
    ProjectError,
    add_recent,
    app_data_dir,
    atomic_write_json_yielding,
    load_recent,
    make_dataset,
    make_labelset,
    staging_dir,
    table_points,
    write_snapshot,
)

AUTOSAVE_MS = 4000
SWITCH_INTERVAL_S = 0.0005
HELD_OUT_EVERY = 5  # one clip in five (by a stable hash of its id) is held out for the confusion matrix


class FnCommand(QUndoCommand):
    """An undoable step from two callables. `done=True`: the action already happened (skip first redo)."""

    def __init__(self, text: str, redo: Callable[[], None], undo: Callable[[], None], done: bool = True):
        super().__init__(text)
        self._redo, self._undo, self._skip = redo, undo, done

    def redo(self) -> None:
        if self._skip:
            self._skip = False
            return
        self._redo()

    def undo(self) -> None:
        self._undo()


def held_out(clip_ids: list[str], labels: dict[str, str]) -> set[str]:
    """Clips kept out of training to draw the confusion matrix: a stable 1-in-5 per class, and at
    least one per class that has three or more clips (the choice never changes as clips are added,
    so a held-out clip is never trained on later)."""
    out = {c for c in clip_ids if zlib.crc32(c.encode()) % HELD_OUT_EVERY == 0}
    by_class: dict[str, list[str]] = {}
    for c in clip_ids:
        by_class.setdefault(labels[c], []).append(c)
    for cls, members in by_class.items():
        if len(members) >= 3 and not out.intersection(members):
            out.add(min(members, key=lambda c: zlib.crc32(c.encode())))
        if len(members) - len(out.intersection(members)) < 1:  # never hold out a whole class
            out.difference_update(members)
    return out


class MainWindow(QMainWindow):
    def __init__(self, project: Project | None = None, *, settings: QSettings | None = None):
        super().__init__()
        # Worker threads (analysis, training, live) share the GIL with the GUI. Python hands the GIL
        # over every 5 ms by default, and painting a plot needs it hundreds of times, so the GUI
        # would wait in a convoy; a shorter switch interval keeps the event loop responsive.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.settings = settings or QSettings("Timbrel", "Timbrel")
        self.undo = QUndoStack(self)
        self.project: Project = project or Project.untitled()
        self.bundle: Any = None
        self.trainer: Any = None
        self.evaluation: Any = None
        self._errors: list[float] = []
        self._analysis: tuple[Any, Any] | None = None  # (thread, worker)
        self._pending_drops: list[tuple[list[Path], str | None]] = []
        self._training: tuple[Any, Any] | None = None
        self._after_training: list[Callable[[], None]] = []
        self._calls: list[Any] = []  # threads of run_call jobs still running
        self.gui_queue = GuiQueue(self)
        self._saving = False
        self._player: Any = None

        self.classes = ClassesPanel()
        self.data_view = DataView()
        self.training_panel = TrainingPanel()
        self.live = LivePanel()
        centre = QSplitter(Qt.Vertical)
        centre.addWidget(self.data_view)
        centre.addWidget(self.training_panel)
        centre.setSizes([420, 330])
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.classes)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.live)
        self.splitter.setSizes([300, 760, 320])
        self.setCentralWidget(self.splitter)
        self.setAcceptDrops(True)
        # Plots would swallow file drops (QGraphicsView accepts drops); let them reach the window.
        for view in (self.data_view.plot, self.training_panel.loss_plot, self.live.trace):
            view.setAcceptDrops(False)

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.project_label = QLabel()
        self.statusBar().addPermanentWidget(self.project_label)

        self._make_actions()
        self._connect()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.resize(1400, 860)
        geo = self.settings.value("geometry")
        if isinstance(geo, (QByteArray, bytes)):
            self.restoreGeometry(geo)  # position and maximised state
        size = self.settings.value("size")
        if isinstance(size, QSize) and size.isValid():
            self.resize(size)  # the client size exactly (frame sizes differ between platforms)
        self._load_project_state()
        self.warmed = False
        QTimer.singleShot(300, self._warm_up)

    def _warm_up(self) -> None:
        from app.gui.workers import warm_up

        spec = self._spec(self.project.features or None)

        def done(_res: Any) -> None:
            self.warmed = True

        self._call(lambda: warm_up(spec), done, lambda m: done(None))

    # ================================================================ actions and wiring
    def _make_actions(self) -> None:
        def act(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        m = self.menuBar().addMenu("&File")
        m.addAction(act("&New project", self.new_project, QKeySequence.New))
        m.addAction(act("&Open project…", self.open_project_dialog, QKeySequence.Open))
        self.recent_menu = m.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addAction(act("Open the &demo", lambda: self.open_demo(explicit=True)))
        m.addSeparator()
        m.addAction(act("&Save", self.save, QKeySequence.Save))
        m.addAction(act("Save &as…", self.save_as_dialog, QKeySequence.SaveAs))
        m.addAction(act("&Export model…", self.export_model_dialog, "Ctrl+E",
                        "Save the trained model for `timbrel predict` / `timbrel live`"))
        m.addSeparator()
        m.addAction(act("&Quit", self.close, QKeySequence.Quit))
        e = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = self.undo.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.Redo)
        e.addAction(self.undo_action)
        e.addAction(self.redo_action)
        e.addSeparator()
        e.addAction(act("Add &class…", self.add_class_dialog, "Ctrl+Shift+N"))
        e.addAction(act("&Add audio files…", self.add_files_dialog, "Ctrl+I"))
        e.addAction(act("&Delete", self.delete_selected, QKeySequence.Delete))
        e.addSeparator()
        e.addAction(act("Features to &analyse…", self.features_dialog, None,
                        "Pitch and confidence (the seed article), or with timbre (MFCC) too"))
        t = self.menuBar().addMenu("&Model")
        self.train_action = act("&Train / Stop", self.toggle_training, "Ctrl+T")
        t.addAction(self.train_action)
        t.addAction(act("&Record a clip", self.toggle_record, "Ctrl+R"))
        t.addAction(act("&Listen / Stop", self.live.toggle_listen, "Ctrl+L"))

    def _connect(self) -> None:  # noqa: C901 - one line per signal
        c = self.classes
        c.tree.files_dropped.connect(self.import_paths)
        c.tree.clips_moved.connect(self.move_clips)
        c.add_class.connect(self.add_class_dialog)
        c.rename_class.connect(self.rename_class_dialog)
        c.colour_class.connect(self.colour_class_dialog)
        c.delete_selected.connect(self.delete_selected)
        c.play_clip.connect(lambda cid: self.play_clip(cid))
        c.record.connect(self.toggle_record)
        self.data_view.point_clicked.connect(self.play_clip)
        tp = self.training_panel
        tp.train_clicked.connect(self.start_training)
        tp.stop_clicked.connect(self.stop_training)
        tp.params_changed.connect(self.apply_params)
        tp.network_changed.connect(self.network_changed)
        tp.matrix_cell_clicked.connect(self.show_cell_clips)
        tp.clip_activated.connect(lambda cid: self.play_clip(cid))
        self.live.status.connect(self.say)

    # ================================================================ messages
    def say(self, text: str, ms: int = 8000) -> None:
        self.statusBar().showMessage(text, ms)

    def error(self, text: str) -> None:
        """An error in plain words: status bar, plus a dialog unless running unattended (tests)."""
        self.say(text, 15000)
        self.last_error = text
        if self.settings.value("dialogs", True, type=bool):
            QMessageBox.warning(self, "Timbrel", text)

    def ask(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    # ================================================================ project state
    def _load_project_state(self) -> None:
        p = self.project
        self.undo.clear()
        self.trainer = None
        self.evaluation = None
        self._errors = []
        self.training_panel.clear_loss()
        self.training_panel.status.setText("Not trained yet.")
        if p.training:
            self.training_panel.set_settings(p.training)
        self.training_panel.set_network({})
        self.bundle = None
        bp = p.bundle_path()
        if bp is not None and bp.exists():
            try:
                from app.bundle import Bundle

                self.bundle = Bundle.load(bp)
                self.training_panel.status.setText("Loaded the project's trained model.")
            except Exception as e:  # noqa: BLE001 - a bad bundle must not stop the project opening
                self.say(f"The project's model could not be loaded ({e}); train again.")
        self.live.set_classifier(self.bundle, self._colours())
        if p.folder is not None and not p.read_only:
            add_recent(p.folder)
        self.refresh()

    def _colours(self) -> dict[str, str]:
        return {c.name: c.colour for c in self.project.classes}

    def refresh(self) -> None:
        p = self.project
        self.classes.refresh(p)
        self.data_view.refresh(p)
        ro = " (read-only example — changes go to a copy)" if p.read_only else ""
        dirty = " •" if p.dirty else ""
        self.setWindowTitle(f"{p.display_name()}{dirty} — Timbrel")
        where = str(p.folder) if p.folder else "not saved"
        self.project_label.setText(f"{p.display_name()}{ro}")
        self.project_label.setToolTip(where)

    def _ensure_writable(self) -> bool:
        """The demo is read-only: the first edit copies it to a new project so nothing is lost."""
        if not self.project.read_only:
            return True
        base = app_data_dir() / "projects"
        base.mkdir(parents=True, exist_ok=True)
        n = 1
        while (base / f"{self.project.display_name()} copy {n}").exists():
            n += 1
        target = base / f"{self.project.display_name()} copy {n}"
        try:
            self.project.save_as(target)
            self.project.title = None
        except (OSError, ProjectError) as e:
            self.error(f"Could not make an editable copy of the example: {e}")
            return False
        if self.bundle is not None and self.project.bundle_path() is not None:
            try:
                self.bundle.save(self.project.bundle_path())
            except (OSError, ValueError) as e:
                self.say(f"The model could not be copied ({e}); train again to keep one.")
        add_recent(target)
        self.say(f"The example is read-only, so your changes go into a copy: {target}")
        self.refresh()
        return True

    def _changed(self) -> None:
        self.refresh()

    # ---------------------------------------------------------------- file menu
    def new_project(self) -> None:
        if not self._confirm_leave():
            return
        self.set_project(Project.untitled())
        self.say(f"New project in {self.project.folder} (use Save As to move it).")

    def open_project_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Timbrel project folder")
        if folder:
            self.open_project(folder)

    def open_project(self, folder: str | Path, read_only: bool = False) -> bool:
        if not self._confirm_leave():
            return False
        try:
            p = Project.open(folder, read_only=read_only)
        except ProjectError as e:
            self.error(str(e))
            return False
        self.set_project(p)
        self.say(f"Opened {p.display_name()}.")
        return True

    def set_project(self, project: Project) -> None:
        self.stop_training(wait=True)
        self.live.stop()
        self.project = project
        self._load_project_state()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = load_recent()
        if not items:
            a = self.recent_menu.addAction("(none yet)")
            a.setEnabled(False)
        for path in items:
            a = self.recent_menu.addAction(path)
            a.triggered.connect(lambda _=False, p=path: self.open_project(p))

    def open_demo(self, explicit: bool = True) -> None:
        """Open the example (building it first if needed). `explicit=False` (first start): when it
        is ready, switch to it only if the user has not started work of their own meanwhile."""
        from app.gui.demo_project import demo_folder, demo_ready

        if demo_ready():
            self.open_project(demo_folder(), read_only=True)
        else:
            self.build_demo(explicit)

    def build_demo(self, explicit: bool = True) -> None:
        """Analyse the bundled trombone/oboe notes into the demo project, in the background."""
        from app.gui.demo_project import demo_files, finish_demo, start_demo_folder

        try:
            files = demo_files()
        except FileNotFoundError as e:
            self.error(str(e))
            return
        folder = start_demo_folder()
        before = self.project  # switch to the example only if the user has not started work meanwhile
        proj = Project(folder)
        proj.title = "Demo: trombone vs oboe"
        self.say("Preparing the trombone vs oboe example…")

        def done(outcome: AnalysisOutcome) -> None:
            for c in outcome.clips:
                proj.add_clip(c.label, c.path, c.index, c.rows, columns=outcome.columns, duration=c.duration,
                              staged=c.staged)
            try:
                proj.save()
                final = finish_demo(folder)
            except (OSError, ProjectError) as e:
                self.error(f"Could not prepare the example: {e}")
                return
            if explicit or (self.project is before and (before.folder is None or before.read_only)):
                self.open_project(final, read_only=True)
            else:
                self.say("The trombone vs oboe example is ready: File › Open the demo.")

        self._run_analysis(files, proj.features or None, done, proj)

    def _confirm_leave(self) -> bool:
        """Save the current project before switching (autosave makes this quiet)."""
        self.autosave(blocking=True)
        return True

    def save(self) -> bool:
        p = self.project
        if p.read_only:
            return self.save_as_dialog()
        try:
            p.training = self.training_panel._safe_settings()
            p.save()
        except (OSError, ProjectError) as e:
            self.error(f"Could not save: {e}")
            return False
        add_recent(p.folder)
        self.say(f"Saved {p.folder}.")
        self.refresh()
        return True

    def save_as_dialog(self) -> bool:
        folder = QFileDialog.getSaveFileName(self, "Save project as (a new folder)")[0]
        return bool(folder) and self.save_as(folder)

    def save_as(self, folder: str | Path) -> bool:
        try:
            self.project.training = self.training_panel._safe_settings()
            self.project.title = None
            self.project.save_as(folder)
            if self.bundle is not None and self.project.bundle_path() is not None:
                self.bundle.save(self.project.bundle_path())
        except (OSError, ProjectError) as e:
            self.error(f"Could not save: {e}")
            return False
        add_recent(self.project.folder)
        self.say(f"Saved as {self.project.folder}.")
        self.refresh()
        return True

    def autosave(self, blocking: bool = False) -> None:
        """Write a dirty project in the background (atomic files), so a crash loses almost nothing."""
        p = self.project
        if not p.dirty or p.read_only or p.folder is None or self._saving:
            return
        p.training = self.training_panel._safe_settings()
        snap, folder = p.snapshot(), p.folder
        revision = p.revision
        if blocking:
            try:
                write_snapshot(folder, snap)
                if p.revision == revision:
                    p.dirty = False
            except OSError as e:
                self.error(f"Autosave failed: {e}")
            return
        self._saving = True

        def finished(_res: Any) -> None:
            self._saving = False
            if p is self.project and p.revision == revision and not failed:
                p.dirty = False
                self.refresh()

        failed: list[str] = []

        def on_fail(msg: str) -> None:
            failed.append(msg)
            self.say(f"Autosave failed: {msg}")

        self._call(lambda: write_snapshot(folder, snap), finished, on_fail)

    def export_model_dialog(self) -> None:
        if self.bundle is None:
            self.error("There is no trained model to export yet: press Train first.")
            return
        path = QFileDialog.getSaveFileName(self, "Export model", "model.timbrel.json",
                                           "Timbrel model (*.timbrel.json)")[0]
        if path:
            self.export_model(path)

    def export_model(self, path: str | Path) -> bool:
        try:
            self.bundle.save(path)
        except (OSError, ValueError) as e:
            self.error(f"Could not export the model: {e}")
            return False
        self.say(f"Model saved to {path}: use it with `timbrel predict` or `timbrel live`.")
        return True

    # ---------------------------------------------------------------- classes
    def add_class_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "Add a class", "Name of the new class (e.g. trombone):")
        if ok and name.strip():
            self.add_class(name)

    def add_class(self, name: str) -> bool:
        if not self._ensure_writable():
            return False
        try:
            info = self.project.add_class(name)
        except ProjectError as e:
            self.error(str(e))
            return False
        self.undo.push(FnCommand(f"Add class {info.name}",
                                 lambda: (self.project.classes.append(info), self._changed()),
                                 lambda: (self.project.classes.remove(info), self._changed())))
        self._changed()
        return True

    def rename_class_dialog(self, old: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename class", f"New name for “{old}”:", text=old)
        if ok and new.strip() and new.strip() != old:
            self.rename_class(old, new.strip())

    def rename_class(self, old: str, new: str) -> bool:
        if not self._ensure_writable():
            return False
        try:
            self.project.rename_class(old, new)
        except ProjectError as e:
            self.error(str(e))
            return False
        self.undo.push(FnCommand(f"Rename {old}", lambda: (self.project.rename_class(old, new), self._changed()),
                                 lambda: (self.project.rename_class(new, old), self._changed())))
        self._changed()
        return True

    def colour_class_dialog(self, name: str) -> None:
        from PySide6.QtGui import QColor

        col = QColorDialog.getColor(QColor(self.project.colour_of(name)), self, f"Colour of {name}")
        if col.isValid():
            self.set_colour(name, col.name())

    def set_colour(self, name: str, colour: str) -> None:
        if not self._ensure_writable():
            return
        old = self.project.colour_of(name)
        self.project.set_colour(name, colour)
        self.undo.push(FnCommand(f"Colour {name}", lambda: (self.project.set_colour(name, colour), self._changed()),
                                 lambda: (self.project.set_colour(name, old), self._changed())))
        self.live.set_classifier(self.bundle, self._colours())
        self._changed()

    def delete_selected(self) -> None:
        clips = self.classes.selected_clips()
        classes = self.classes.selected_classes()
        if clips:
            self.delete_clips(clips)
        elif classes:
            for name in classes:
                self.delete_class(name)

    def delete_clips(self, clip_ids: list[str]) -> None:
        if not self._ensure_writable():
            return
        records = [self.project.remove_clip(cid) for cid in clip_ids if cid in self.project.clips]

        def redo() -> None:
            for r in records:
                self.project.remove_clip(r.clip.id)
            self._changed()

        def undo() -> None:
            for r in reversed(records):
                self.project.restore_clip(r)
            self._changed()

        self.undo.push(FnCommand(f"Delete {len(records)} clip(s)", redo, undo))
        self.say(f"Deleted {len(records)} clip(s). Undo with Ctrl+Z.")
        self._changed()

    def delete_class(self, name: str) -> None:
        if not self._ensure_writable():
            return
        state = self.project.delete_class(name)

        def redo() -> None:
            nonlocal state
            state = self.project.delete_class(name)
            self._changed()

        self.undo.push(FnCommand(f"Delete class {name}", redo,
                                 lambda: (self.project.restore_class(*state), self._changed())))
        self.say(f"Deleted the class {name} and its clips. Undo with Ctrl+Z.")
        self._changed()

    def move_clips(self, clip_ids: list[str], label: str) -> None:
        if not self._ensure_writable():
            return
        old = {cid: self.project.relabel_clip(cid, label) for cid in clip_ids if cid in self.project.clips}

        def redo() -> None:
            for cid in old:
                self.project.relabel_clip(cid, label)
            self._changed()

        def undo() -> None:
            for cid, lab in old.items():
                self.project.relabel_clip(cid, lab)
            self._changed()

        self.undo.push(FnCommand(f"Move {len(old)} clip(s) to {label}", redo, undo))
        self._changed()

    FEATURE_CHOICES = {
        "Pitch, confidence and timbre (MFCC) — tells instruments apart in a shared register":
            ("pitch", "confidence", "mfcc"),
        "Pitch and confidence only — the seed article's two dimensions": ("pitch", "confidence"),
    }

    def features_dialog(self) -> None:
        if self.project.clips:
            self.error("The features are fixed once a project has clips (every clip must be analysed "
                       "the same way). Start a new project to use other features.")
            return
        names = list(self.FEATURE_CHOICES)
        current = tuple(self._spec(self.project.features or None).features)
        index = next((i for i, n in enumerate(names) if self.FEATURE_CHOICES[n] == current), 0)
        choice, ok = QInputDialog.getItem(self, "Features", "What should Timbrel listen to?", names, index, False)
        if ok:
            self.set_features(self.FEATURE_CHOICES[choice])

    def set_features(self, features: tuple[str, ...]) -> bool:
        """Choose the analysed features of a project that has no clips yet."""
        from dsp.features import FeatureSpec

        if self.project.clips or not self._ensure_writable():
            return False
        self.project.features = FeatureSpec(features=tuple(features)).to_dict()
        self.project.columns = []
        self.project.dirty = True
        self.say("New clips will be analysed for: " + ", ".join(features) + ".")
        return True

    # ---------------------------------------------------------------- importing audio
    def add_files_dialog(self) -> None:
        files = QFileDialog.getOpenFileNames(self, "Add audio files to the selected class", "",
                                             "Audio (*.wav *.flac *.ogg *.mp3 *.aif *.aiff);;All files (*)")[0]
        if files:
            self.import_paths([Path(f) for f in files], self.classes.selected_class())

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.import_paths(paths, None)

    def import_paths(self, paths: list[Path], label: str | None, cleanup: list[Path] | None = None) -> None:
        """Label files/folders (`label`, or each file's folder name) and analyse them in the background.
        `cleanup`: temporary files (a recording) to delete once they are in the project."""
        from app.analysis import find_audio_files, label_for

        if not self._ensure_writable():
            return
        if self._analysis is not None:
            self._pending_drops.append((paths, label))
            self.say("Analysis is running; the new files will follow.")
            return
        try:
            files = find_audio_files(paths)
        except FileNotFoundError as e:
            self.error(str(e))
            return
        if not files:
            self.error("No audio files there (Timbrel reads WAV, FLAC, OGG, MP3 and AIFF).")
            return
        labelled = [(f, label or label_for(f)) for f in files]
        project = self.project

        def done(outcome: AnalysisOutcome) -> None:
            if project is not self.project:  # the user opened another project meanwhile
                for c in outcome.clips:
                    if c.staged is not None:
                        Path(c.staged).unlink(missing_ok=True)
                return
            added = []
            for c in outcome.clips:
                try:
                    added.append(project.add_clip(c.label, c.path, c.index, c.rows, columns=outcome.columns,
                                                  duration=c.duration, staged=c.staged))
                except (OSError, ProjectError) as e:
                    outcome.failures.append((c.path, str(e)))
            if added:
                ids = [c.id for c in added]
                records: list[Any] = []

                def undo() -> None:
                    records[:] = [project.remove_clip(cid) for cid in ids if cid in project.clips]
                    self._changed()

                def redo() -> None:
                    for r in records:
                        project.restore_clip(r)
                    self._changed()

                self.undo.push(FnCommand(f"Add {len(added)} clip(s)", redo, undo))
            if outcome.failures:
                self.classes.show_problems(outcome.failures)
            for tmp in cleanup or []:
                Path(tmp).unlink(missing_ok=True)
            msg = f"Added {len(added)} clip(s)"
            if outcome.failures:
                msg += f"; {len(outcome.failures)} file(s) could not be used (listed under the clips)"
            self.say(msg + ".")
            self._changed()

        self._run_analysis(labelled, project.features or None, done)

    def _spec(self, features: dict | None):
        from dsp.features import FeatureSpec

        if features:
            return FeatureSpec.from_dict(features)
        # Pitch + confidence alone confuse instruments sharing a register; MFCCs (timbre) separate them.
        # The app keeps its own training path (no augmentation or calibration yet), measured with these.
        return FeatureSpec(features=("pitch", "confidence", "mfcc"))

    def _run_analysis(self, labelled: list[tuple[Path, str]], features: dict | None,
                      done: Callable[[AnalysisOutcome], None], project: Project | None = None) -> None:
        project = project or self.project
        spec = self._spec(features)
        if not project.features:
            project.features = spec.to_dict()
        stage = staging_dir(project.folder) if project.folder is not None else None

        def finished(outcome: AnalysisOutcome) -> None:
            self._analysis = None
            self.progress.hide()
            done(outcome)
            if self._pending_drops:
                paths, label = self._pending_drops.pop(0)
                self.import_paths(paths, label)

        worker = AnalysisWorker(labelled, spec, stage, self.gui_queue, progress=self._analysis_progress,
                                finished=finished, failed=self.error)
        self.progress.setRange(0, len(labelled))
        self.progress.setValue(0)
        self.progress.show()
        self._analysis = (worker.start(), worker)
        self.say(f"Analysing {len(labelled)} file(s)…", 0)

    def _analysis_progress(self, done: int, total: int, name: str) -> None:
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        self.statusBar().showMessage(f"Analysing {name} ({done}/{total})…")

    def analysis_running(self) -> bool:
        return self._analysis is not None

    # ---------------------------------------------------------------- training
    def toggle_training(self) -> None:
        if self._training is not None:
            self.stop_training()
        else:
            self.start_training()

    def training_running(self) -> bool:
        return self._training is not None

    def start_training(self) -> bool:
        from app.training import Trainer, TrainSettings

        if self._training is not None:
            return False
        if self._analysis is not None:
            self.error("Wait for the analysis to finish, then train.")
            return False
        p = self.project
        with_points = {c.label for c in p.clips.values() if c.frames > 0}
        if len(with_points) < 2:
            self.error("Training needs at least two classes with clips: drop some audio on two classes.")
            return False
        try:
            s = self.training_panel.settings()
            settings = TrainSettings(**{k: v for k, v in s.items()}, fits=1_000_000, max_fits=1_000_000)
        except (ValueError, TypeError) as e:
            self.error(f"Check the training settings: {e}")
            return False
        clip_labels = {cid: c.label for cid, c in p.clips.items()}
        hold = held_out(list(p.clips), clip_labels)
        table = p.clip_table()
        cols = max(len(p.columns), 1)
        train_table = [row for row in table if row[0] not in hold and len(row[2])]
        test_table = [row for row in table if row[0] in hold and len(row[2])]
        if len({row[1] for row in train_table}) < 2:
            self.error("Training needs at least two classes with clips.")
            return False
        network = self.training_panel.network_part()
        if self.trainer is None or self.trainer.settings.algorithm != settings.algorithm:
            self.trainer = Trainer(make_dataset([], np.zeros((0, cols)), cols), make_labelset([], []), settings)
            self.training_panel.set_network(network)
            self.training_panel.clear_loss()
            self._errors = []
        else:
            # Same network: only the keep-the-network parameters and the plateau switch change.
            self.trainer.settings.until_plateau = settings.until_plateau
            self.apply_params({k: getattr(settings, k) for k in LIVE_KEYS})
        trainer = self.trainer
        self._test_set = (test_table, cols)
        n_train = sum(len(r[2]) for r in train_table)

        def prepare() -> None:
            # Building the DataSet/LabelSet happens on the training thread, not the GUI's.
            ids, matrix, labels = table_points(train_table, cols)
            trainer.dataset = make_dataset(ids, matrix, cols)
            trainer.labels = make_labelset(ids, labels)

        worker = TrainWorker(trainer, self.gui_queue, prepare=prepare, epochs_ready=self._drain_epochs,
                             fit_done=self._fit_done, finished=self._training_finished,
                             failed=lambda m: self.error(f"Training stopped: {m}"))
        self._training = (worker.start(), worker)
        self.training_panel.set_running(True)
        self.training_panel.status.setText(
            f"Training on {n_train} frames from {len(p.clips) - len(hold)} clips "
            f"({len(hold)} held out)…")
        return True

    def stop_training(self, wait: bool = False) -> None:
        if self._training is None:
            return
        thread, worker = self._training
        worker.stop()
        if wait:
            thread.join(10)
            self.gui_queue.drain()  # run its last callbacks (the finished model) now

    def _drain_epochs(self) -> None:
        if self._training is None:
            return
        q = self._training[1].epochs
        pts = []
        while q:
            pts.append(q.popleft())
        self.training_panel.add_epochs(pts)

    def _fit_done(self, report: Any) -> None:
        from app.training import plateaued

        if math.isfinite(report.error):
            self._errors.append(report.error)
        s = self.training_panel.settings() if self.trainer is None else self.trainer.settings
        plateau = plateaued(self._errors, s.plateau_fits, s.plateau_tolerance) if self._errors else False
        self.plateau = plateau
        val = "" if report.validation_error is None or not math.isfinite(report.validation_error) \
            else f", validation {report.validation_error:.3g}"
        text = f"Fit {len(self._errors)}: error {report.error:.3g}{val} (best {min(self._errors or [math.nan]):.3g})."
        self.training_panel.status.setText(text)
        self.training_panel.show_plateau(plateau)

    def _training_finished(self, result: Any) -> None:
        self.last_result = result
        self._drain_epochs()
        self._training = None
        self.training_panel.set_running(False)
        callbacks, self._after_training = self._after_training, []
        if result is not None and result.reports:
            how = {"plateau": "stopped at a plateau", "stop": "stopped", "knn": "KNN fitted"}.get(
                result.stopped_by, "finished")
            self.say(f"Training {how} after {len(result.reports)} fit(s).")
            self._make_bundle(result)
        for cb in callbacks:
            cb()

    def _make_bundle(self, result: Any) -> None:
        """Bundle a copy of the model (so live prediction never reads weights being trained), save it,
        and evaluate the held-out clips — all off the GUI thread."""
        from app.bundle import Bundle, training_record
        from app.training import evaluate

        p = self.project
        spec = self._spec(p.features or None)
        classes = list(self.trainer.labels.classes())
        record = training_record(self.trainer.settings.to_dict(), [r.error for r in result.reports],
                                 result.stopped_by)
        path = None if p.read_only else p.bundle_path()
        test_table, cols = self._test_set
        columns = list(p.columns)

        def work():
            live = Bundle(spec, result.scaler, result.model, classes, "frame", columns, record)
            data = live.to_dict()
            bundle = Bundle.from_dict(data)
            if path is not None:
                atomic_write_json_yielding(path, data)  # a KNN bundle holds every point: keep the GUI free
            ev = None
            test_ids, test_matrix, test_labels = table_points(test_table, cols)
            if test_ids:
                ev = evaluate(bundle, make_dataset(test_ids, test_matrix, cols), make_labelset(test_ids, test_labels))
            return bundle, ev

        def finished(res: Any) -> None:
            if res is None or p is not self.project:
                return
            self.bundle, self.evaluation = res
            self.live.set_classifier(self.bundle, self._colours())
            ev = self.evaluation
            if ev is not None:
                self.training_panel.show_matrix(ev.classes, ev.confusion, ev.accuracy, len(ev.clips),
                                                self._colours())
            else:
                self.training_panel.matrix_title.setText(
                    "Add at least three clips per class to hold some out for a confusion matrix.")
            self.model_ready = True

        self._call(work, finished, lambda m: self.error(f"Could not finish the model: {m}"))

    def apply_params(self, params: dict) -> None:
        """Learn rate, momentum, batch size, epochs per fit, validation: take effect at the next fit."""
        model = getattr(self.trainer, "model", None)
        if model is None:
            return
        for k, v in params.items():
            if v is not None and hasattr(model, k):
                setattr(model, k, v)
            if v is not None and hasattr(self.trainer.settings, k):
                setattr(self.trainer.settings, k, v)
        if self._training is not None:
            self.say("New settings apply from the next fit; the network is kept.")

    def network_changed(self, network: dict) -> None:
        """Hidden layers / activation / algorithm changed: ask, then start a fresh network."""
        if self.trainer is None:
            self.training_panel.set_network(network)
            return
        if not self.ask("Start a new network?",
                        "Changing the hidden layers, activation, scaler or algorithm needs a new network: "
                        "the training so far will be lost. Continue?"):
            self.training_panel.revert_network()
            return

        def reset() -> None:
            self.trainer = None
            self._errors = []
            self.training_panel.clear_loss()
            self.training_panel.set_network(network)
            self.training_panel.status.setText("New network: press Train to start it.")
            self.say("The network was reset.")

        if self._training is not None:
            self._after_training.append(reset)
            self.stop_training()
        else:
            reset()

    def show_cell_clips(self, truth: str, predicted: str) -> None:
        ev = self.evaluation
        if ev is None:
            return
        rows = []
        for c in ev.clips:
            if c.truth == truth and c.predicted == predicted and c.clip_id in self.project.clips:
                clip = self.project.clips[c.clip_id]
                rows.append((c.clip_id, f"{clip.source or c.clip_id}: {c.predicted} {c.confidence:.0%}"))
        self.training_panel.show_cell_clips(rows)

    # ---------------------------------------------------------------- playback and recording
    def play_clip(self, clip_id: str, frame: int | None = None) -> None:
        """Play a clip (from a frame, if given) on the default output; errors in plain words."""
        if clip_id not in self.project.clips:
            return
        path = self.project.clip_path(clip_id)
        try:
            from dsp.audio import load

            spec = self._spec(self.project.features or None)
            y = load(path, spec.sr)
            start = 0 if frame is None else max(0, frame * spec.hop_length - spec.frame_length // 2)
            seg = y[start:start + (len(y) if frame is None else spec.sr // 2)]
            import sounddevice as sd

            sd.play(seg, spec.sr)
        except Exception as e:  # noqa: BLE001 - no output device is common on servers
            self.say(f"Cannot play {path.name}: {e}")
            return
        self.say(f"Playing {self.project.clips[clip_id].source or clip_id}"
                 + ("" if frame is None else f" from frame {frame}") + ".")

    def toggle_record(self) -> None:
        """Record from the chosen input into the selected class; press again to stop and add it."""
        if getattr(self, "_recording", None) is not None:
            session, label = self._recording
            self._recording = None
            self._rec_timer.stop()
            try:
                audio = session.recording()
            finally:
                session.close()
            self.classes.record_btn.setText("● Record")
            if len(audio) < 0.2 * session.worker.spec.sr:
                self.say("The recording was too short to use.")
                return
            from dsp.audio import save_wav

            tmp = Path(tempfile.mkdtemp(prefix="timbrel-rec-")) / f"{label}_{time.strftime('%H%M%S')}.wav"
            save_wav(tmp, audio, int(session.worker.spec.sr), subtype="PCM_16")
            self.import_paths([tmp], label, cleanup=[tmp])
            return
        label = self.classes.selected_class()
        if not label:
            self.error("Select the class to record into first (or add one with + Class).")
            return
        if not self.live.has_device():
            self.error("There is no input device to record from.")
            return
        from app.gui.live_backend import LiveSession, NullClassifier

        try:
            session = LiveSession(("device", self.live.device.currentData()),
                                  NullClassifier(self._spec(self.project.features or None)), record=True)
        except Exception as e:  # noqa: BLE001
            self.error(f"Could not start recording: {e}")
            return
        self._recording = (session, label)
        self.record_peak_db = -math.inf
        self.classes.record_btn.setText("■ Stop recording")
        self._rec_timer = QTimer(self)
        self._rec_timer.setInterval(50)
        self._rec_timer.timeout.connect(lambda: self._record_meter(session))
        self._rec_timer.start()
        self.say(f"Recording into {label}… press Record again (Ctrl+R) to stop.", 0)

    def _record_meter(self, session: Any) -> None:
        last = None
        while not session.queue.empty():
            d = session.queue.get_nowait()
            if hasattr(d, "level_db"):
                last = d
        if last is not None and math.isfinite(last.level_db):
            self.live.meter.setValue(int(max(-60, min(0, last.level_db))))
            self.record_peak_db = max(self.record_peak_db, last.level_db)

    # ---------------------------------------------------------------- helpers
    def _call(self, fn: Callable[[], Any], done: Callable[[Any], None], failed: Callable[[str], None]) -> None:
        entry: list[Any] = []

        def finished(res: Any) -> None:
            if entry and entry[0] in self._calls:
                self._calls.remove(entry[0])
            done(res)

        entry.append(run_call(fn, self.gui_queue, finished, failed))
        self._calls.append(entry[0])

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Wait for background work (used on close and by tests)."""
        from PySide6.QtCore import QCoreApplication

        t0 = time.monotonic()
        while (self._analysis or self._training or self._calls or self._saving) and time.monotonic() - t0 < timeout_s:
            QCoreApplication.processEvents()
            self.gui_queue.drain()
            time.sleep(0.005)

    def closeEvent(self, event) -> None:
        if getattr(self, "_recording", None) is not None:
            self.toggle_record()
        self.live.shutdown()
        self.stop_training(wait=True)
        if self._analysis is not None:
            self._analysis[1].stop()
        self.wait_idle(20)
        self.autosave(blocking=True)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("size", self.size())
        super().closeEvent(event)
