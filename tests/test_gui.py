"""The desktop app in a real Qt event loop (pytest-qt, offscreen): real drops of real files, real
analysis and training threads, a real trained model fed through dsp.live's FileInput."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QElapsedTimer, QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui.main_window import MainWindow
from app.project import Project

N_PER_CLASS = 6  # enough for a held-out clip per class, few enough to analyse quickly


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIMBREL_HOME", str(tmp_path / "home"))


@pytest.fixture(autouse=True)
def _no_silent_hang():
    """A GUI test that hangs fails loudly with every thread's stack instead of stalling the suite."""
    import faulthandler

    faulthandler.dump_traceback_later(240, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "qt.ini"), QSettings.IniFormat)
    s.setValue("dialogs", False)  # errors still go to the status bar; no modal box blocks the test
    return s


@pytest.fixture
def window(qtbot, tmp_path, settings):
    w = MainWindow(Project.create(tmp_path / "proj"), settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.warmed, timeout=120_000)  # the app is ready (kernels loaded)
    yield w
    w.live.stop()
    w.stop_training(wait=True)
    w.wait_idle()


class StallMeter:
    """Longest gap between 2 ms timer ticks: how long the GUI thread was unable to run the loop."""

    def __init__(self):
        self.clock = QElapsedTimer()
        self.timer = QTimer(QApplication.instance())
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)
        self.last = 0
        self.longest_ms = 0

    def _tick(self):
        now = self.clock.elapsed()
        self.longest_ms = max(self.longest_ms, now - self.last)
        self.last = now

    def __enter__(self):
        self.clock.start()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.stop()


def notes(assets_dir: Path, label: str, n: int = N_PER_CLASS, part: str = "train") -> list[Path]:
    files = sorted((assets_dir / part / "fluidr3" / label).glob("*.flac"))
    return files[:: max(1, len(files) // n)][:n]


def drop(qtbot, widget, paths: list[Path], pos: QPoint) -> None:
    """Real drag-enter, drag-move and drop events with file URLs, as a file manager sends them."""
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    # drag-enter/move take an integer QPoint, the drop a QPointF (PySide6 < 6.12)
    for cls, where in ((QDragEnterEvent, pos), (QDragMoveEvent, pos), (QDropEvent, QPointF(pos))):
        ev = cls(where, Qt.CopyAction, md, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(widget, ev)
        assert ev.isAccepted(), f"{cls.__name__} was refused"


def drop_on_class(qtbot, w: MainWindow, name: str, paths: list[Path]) -> None:
    tree = w.classes.tree
    tree.doItemsLayout()  # the tree was just rebuilt; lay it out before aiming at a row
    item = w.classes.class_item(name)
    tree.scrollToItem(item)
    pos = tree.visualItemRect(item).center()
    assert tree.itemAt(pos) is item
    drop(qtbot, tree.viewport(), paths, pos)
    qtbot.waitUntil(lambda: not w.analysis_running(), timeout=120_000)


def test_drop_files_onto_class_analyses_and_plots(qtbot, window, assets_dir):
    w = window
    assert w.add_class("oboe") and w.add_class("trombone")
    files = notes(assets_dir, "oboe", 3)
    with StallMeter() as stall:
        drop_on_class(qtbot, w, "oboe", files)
    p = w.project
    assert len(p.clips_of("oboe")) == 3 and not p.clips_of("trombone")
    assert all(c.frames > 0 and c.duration > 0.5 for c in p.clips.values())
    assert all((p.folder / c.file).read_bytes() == f.read_bytes()
               for c, f in zip(p.clips.values(), files))  # copied into the project
    assert w.data_view.point_count() == p.n_points() > 0
    assert w.data_view.x_combo.currentText() == "pitch" and w.data_view.y_combo.currentText() == "confidence"
    item = w.classes.class_item("oboe")
    assert item.childCount() == 3
    # Clicking a point in the scatter asks to play that clip at that frame.
    qtbot.wait(100)  # let the plot settle its auto-range before aiming at a point
    scatter = w.data_view._items["oboe"]
    spot = scatter.points()[len(scatter.points()) // 2]
    view = w.data_view.plot
    pos = view.mapFromScene(scatter.mapToScene(spot.pos()))
    with qtbot.waitSignal(w.data_view.point_clicked) as clicked:
        qtbot.mouseMove(view.viewport(), pos)
        qtbot.mousePress(view.viewport(), Qt.LeftButton, pos=pos)
        qtbot.wait(20)
        qtbot.mouseRelease(view.viewport(), Qt.LeftButton, pos=pos)
    clip, frame = clicked.args
    index, rows = p.clip_frames(clip)  # the clicked point is one drawn where we clicked
    row = rows[list(index).index(frame)]
    assert (row[0], row[1]) == pytest.approx((spot.pos().x(), spot.pos().y()), abs=0.05)
    assert w.statusBar().currentMessage()  # "Playing …", or why it cannot play, in words
    print(f"\nlongest event-loop stall while analysing 3 files: {stall.longest_ms} ms")
    # Drag a clip onto the other class (relabel), then undo.
    cid = next(iter(p.clips))
    w.move_clips([cid], "trombone")
    assert p.clips[cid].label == "trombone" and w.classes.class_item("trombone").childCount() == 1
    w.undo.undo()
    assert p.clips[cid].label == "oboe"
    # Delete is undoable, and the audio comes back too.
    path = p.clip_path(cid)
    w.delete_clips([cid])
    assert cid not in p.clips and not path.exists()
    w.undo.undo()
    assert cid in p.clips and path.exists()
    # Autosave (background, atomic) leaves a project that reopens identically.
    assert p.dirty
    w.autosave()
    qtbot.waitUntil(lambda: not p.dirty, timeout=30_000)
    again = Project.open(p.folder)
    assert again.to_meta() == p.to_meta() and again.points()[0] == p.points()[0]


def test_drop_folder_on_window_uses_folder_name_and_lists_bad_files(qtbot, window, assets_dir, tmp_path):
    w = window
    w.add_class("oboe")
    drop_on_class(qtbot, w, "oboe", notes(assets_dir, "oboe", 2))
    before_meta = w.project.to_meta()
    before_ids, before_matrix, _ = w.project.points()
    folder = tmp_path / "drop" / "trombone"
    folder.mkdir(parents=True)
    shutil.copy(notes(assets_dir, "trombone", 1)[0], folder / "good.flac")
    (folder / "text.wav").write_text("this is not audio\n")
    (folder / "empty.flac").write_bytes(b"")
    good = sf.read(str(folder / "good.flac"))[0]
    (folder / "cut.flac").write_bytes((folder / "good.flac").read_bytes()[:300])  # truncated
    view = w.data_view.plot.viewport()  # dropped over the scatter: it reaches the window
    drop(qtbot, view, [folder], QPoint(view.width() // 2, view.height() // 2))
    qtbot.waitUntil(lambda: not w.analysis_running(), timeout=120_000)
    p = w.project
    assert [c.source for c in p.clips_of("trombone")] == ["good.flac"]  # the folder's name is the class
    problems = [w.classes.problems.item(i).text() for i in range(w.classes.problems.count())]
    assert len(problems) == 3 and w.classes.problems.isVisible()
    assert {t.split(":")[0] for t in problems} == {"text.wav", "empty.flac", "cut.flac"}
    assert all(len(t.split(":", 1)[1].strip()) > 5 for t in problems)  # a reason in words
    assert "could not be used" in w.statusBar().currentMessage()
    # Nothing that was there before is lost.
    for cid in before_meta["clips"]:
        assert cid["id"] in p.clips
    ids, matrix, _ = p.points()
    old = dict(zip(before_ids, before_matrix))
    assert all(np.array_equal(old[i], m) for i, m in zip(ids, matrix) if i in old)
    assert len(good) > 0


@pytest.fixture
def trained_setup(qtbot, window, assets_dir):
    w = window
    w.add_class("trombone")
    w.add_class("oboe")
    drop_on_class(qtbot, w, "trombone", notes(assets_dir, "trombone"))
    drop_on_class(qtbot, w, "oboe", notes(assets_dir, "oboe"))
    return w


def test_train_loss_falls_learn_rate_keeps_network_hidden_resets(qtbot, trained_setup, monkeypatch):
    w = trained_setup
    tp = w.training_panel
    tp.apply_preset("Seed article (3 sigmoid)")
    tp.auto_stop.setChecked(False)
    tp.batch_size.setValue(8)  # quicker epochs; the seed's batch 1 is tested by the model's own tests
    with StallMeter() as stall:
        assert w.start_training()
        qtbot.waitUntil(lambda: len(w._errors) >= 3, timeout=120_000)
        model = w.trainer.model
        epochs_before = model.epochs
        tp.learn_rate.setValue(0.05)  # mid-training: applies at the next fit, network kept
        n = len(w._errors)
        qtbot.waitUntil(lambda: len(w._errors) >= n + 2, timeout=120_000)
    assert w.trainer.model is model and model.learn_rate == pytest.approx(0.05)
    assert model.epochs > epochs_before  # continued, not reset
    w.stop_training()
    qtbot.waitUntil(lambda: not w.training_running() and w.bundle is not None, timeout=60_000)
    x, train, val = tp.loss_points()
    assert len(x) >= 5 and all(b > a for a, b in zip(x, x[1:]))  # one point per epoch, in order
    assert w._errors[-1] < w._errors[0]  # the error fell
    print(f"\nlongest event-loop stall while training: {stall.longest_ms} ms over {len(x)} epochs")
    # The held-out clips got a confusion matrix; clicking a cell lists its clips.
    assert w.evaluation is not None and w.evaluation.confusion.sum() >= 2
    assert tp.matrix.rowCount() == 2
    tp.tabs.setCurrentIndex(1)
    row = int(np.argmax(w.evaluation.confusion.sum(axis=1)))
    cell = tp.matrix.visualItemRect(tp.matrix.item(row, row)).center()
    qtbot.mouseClick(tp.matrix.viewport(), Qt.LeftButton, pos=cell)
    assert tp.matrix_clips.count() == int(w.evaluation.confusion[row, row]) > 0

    # Hidden layers change: the user is asked; "No" keeps the network, "Yes" resets it.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    tp.hidden.setText("5")
    tp.hidden.editingFinished.emit()
    assert w.trainer.model is model and tp.hidden.text() == "3"
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    tp.hidden.setText("5")
    tp.hidden.editingFinished.emit()
    assert w.trainer is None and tp.loss_points()[0] == []
    assert w.start_training()
    qtbot.waitUntil(lambda: len(w._errors) >= 1, timeout=120_000)
    assert w.trainer.model is not model and w.trainer.model.hidden_layers == [5]
    w.stop_training()
    qtbot.waitUntil(lambda: not w.training_running(), timeout=60_000)


def test_live_panel_follows_a_file_and_save_reopen(qtbot, trained_setup, assets_dir, tmp_path, settings,
                                                   monkeypatch):
    w = trained_setup
    tp = w.training_panel
    tp.apply_preset("KNN (3 neighbours)")
    w.training_panel.set_network({})  # no network yet
    print({c.id: (c.label, c.frames) for c in w.project.clips.values()}, w.classes.problems.count())
    assert w.start_training(), getattr(w, "last_error", "")
    qtbot.waitUntil(lambda: not w.training_running() and w.bundle is not None, timeout=60_000)
    # A trombone note then an oboe note, fed through the same ring/worker path as the microphone.
    sr = w.bundle.spec.sr
    from dsp.audio import load

    tb = load(notes(assets_dir, "trombone", 1, "test")[0], sr)
    ob = load(notes(assets_dir, "oboe", 1, "test")[0], sr)
    seq = np.concatenate([tb, np.zeros(sr // 2, np.float32), ob]).astype(np.float32)
    wav = tmp_path / "seq.wav"
    sf.write(str(wav), seq, sr)
    shown: list[tuple[float, str | None, dict]] = []
    orig = w.live.show_decision
    w.live.show_decision = lambda d: (shown.append((d.time, d.label, dict(d.probabilities))), orig(d))[1]
    # An MLP trains in the background meanwhile: the live panel keeps up.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    tp.apply_preset("Seed article (3 sigmoid)")
    tp.auto_stop.setChecked(False)
    knn = w.bundle
    assert w.start_training()
    assert w.live.start_file(wav, realtime=True)
    with StallMeter() as stall:
        qtbot.waitUntil(lambda: not w.live.is_running(), timeout=60_000)
    assert w.training_running()
    w.stop_training()
    qtbot.waitUntil(lambda: not w.training_running() and w.bundle is not knn, timeout=60_000)
    print(f"\nlongest event-loop stall while listening and training: {stall.longest_ms} ms")
    labels = [lab for _, lab, _ in shown if lab is not None]
    first = [lab for t, lab, _ in shown if lab is not None and t < len(tb) / sr]
    second = [lab for t, lab, _ in shown if lab is not None and t > (len(tb) + sr // 2) / sr]
    assert first and second
    assert max(set(first), key=first.count) == "trombone"
    assert max(set(second), key=second.count) == "oboe"
    assert set(w.live.bars) == {"trombone", "oboe"}
    rate = len(shown) / (len(seq) / sr)
    print(f"\nlive panel updates: {rate:.1f} per second of audio ({len(shown)} updates)")
    assert len(labels) > 10

    # Export the model for `timbrel predict` / `timbrel live`.
    from app.bundle import Bundle

    exported = tmp_path / "export" / "model.timbrel.json"
    assert w.export_model(exported)
    assert Bundle.load(exported).predict_file(notes(assets_dir, "oboe", 1, "test")[0]).label == "oboe"

    # Save, reopen: the same project, and the model comes back.
    assert w.save()
    folder = w.project.folder
    w2 = MainWindow(Project.open(folder), settings=settings)
    qtbot.addWidget(w2)
    a, b = w.project, w2.project
    assert a.to_meta() == b.to_meta()
    ids_a, m_a, l_a = a.points()
    ids_b, m_b, l_b = b.points()
    assert ids_a == ids_b and l_a == l_b and np.array_equal(m_a, m_b)
    assert w2.bundle is not None and w2.bundle.labels == w.bundle.labels
    w2.close()


def test_no_input_device_message(qtbot, tmp_path, settings, monkeypatch):
    from app.gui import live_backend
    from dsp.live import NoInputDeviceError

    def none():
        raise NoInputDeviceError("no input device: PortAudio sees no device that can record")

    monkeypatch.setattr(live_backend, "input_devices", none)
    w = MainWindow(Project.create(tmp_path / "p"), settings=settings)
    qtbot.addWidget(w)
    assert "No input device" in w.live.message.text()
    assert not w.live.listen_btn.isEnabled()
    assert w.add_class("oboe")  # the rest of the app works
    w.close()


def test_first_start_opens_the_demo_read_only_and_edits_go_to_a_copy(qtbot, settings):
    from app.gui import _initial_project
    from app.gui.demo_project import demo_folder

    first = _initial_project(None)
    assert first.folder is None and first.read_only  # nothing yet: the example gets built
    w = MainWindow(first, settings=settings)
    qtbot.addWidget(w)
    w.open_demo(explicit=False)  # what app.gui.run does on a first start
    qtbot.waitUntil(lambda: w.project.read_only and w.project.n_points() > 0, timeout=180_000)
    demo = w.project
    assert demo.folder == demo_folder() and set(demo.class_names()) == {"oboe", "trombone"}
    meta_before = (demo_folder() / "project.json").read_text()
    # An edit of the read-only example goes into a new project; the example stays as it was.
    assert w.add_class("flute")
    assert not w.project.read_only and w.project.folder != demo_folder()
    assert "flute" in w.project.class_names() and w.project.n_points() == demo.n_points()
    w.autosave(blocking=True)
    assert (demo_folder() / "project.json").read_text() == meta_before
    assert "flute" in Project.open(w.project.folder).class_names()
    # The next start opens the user's project (recent), not the example.
    again = _initial_project(None)
    assert again.folder == w.project.folder.resolve() or again.folder == w.project.folder
    w.close()


def test_record_a_clip_from_the_live_input(qtbot, window, assets_dir):
    """Through the real PortAudio stream on the virtual sound card (scripts/test starts it)."""
    import threading

    from live_card import play, private_sink

    w = window
    w.add_class("oboe")
    note = notes(assets_dir, "oboe", 1, "test")[0]
    with private_sink() as sink:
        w.live.refresh_devices()
        assert w.live.has_device(), w.live.message.text()
        w.classes.class_item("oboe").setSelected(True)
        w.toggle_record()
        assert w._recording is not None, getattr(w, "last_error", "")
        player = threading.Thread(target=play, args=(sink, note))
        player.start()
        qtbot.waitUntil(lambda: not player.is_alive(), timeout=60_000)
        qtbot.wait(300)  # the tail of the note reaches the worker
        assert w.record_peak_db > -40  # the level meter saw the note while recording
        w.toggle_record()
    qtbot.waitUntil(lambda: not w.analysis_running() and bool(w.project.clips_of("oboe")), timeout=120_000)
    clip = w.project.clips_of("oboe")[0]
    assert clip.frames > 10 and clip.duration > 1.0
    assert (w.project.folder / clip.file).exists()


def test_window_restores_its_size(qtbot, tmp_path, settings):
    w = MainWindow(Project.create(tmp_path / "a"), settings=settings)
    qtbot.addWidget(w)
    w.show()
    w.resize(1111, 777)
    qtbot.waitUntil(lambda: w.size().width() == 1111)
    w.close()
    w2 = MainWindow(Project.create(tmp_path / "b"), settings=settings)
    qtbot.addWidget(w2)
    w2.show()
    assert (w2.width(), w2.height()) == (1111, 777)
    w2.close()


def test_long_sessions_do_not_exhaust_none(qtbot, window):
    """PySide6 6.12.0 on CPython 3.11 drops a reference to None per void Qt call and aborts a long
    session (pyproject excludes it); 300,000 void Qt calls, more than None has references, must
    leave None's count where it was."""
    import sys

    before = sys.getrefcount(None)
    meter = window.live.meter
    for i in range(300_000):
        meter.setObjectName("meter")  # any void Qt call; setValue also repaints, which is slow
    assert sys.getrefcount(None) > 1_000_000 or before - sys.getrefcount(None) < 1000


def test_keyboard_shortcuts_train_stop_and_delete(qtbot, trained_setup):
    w = trained_setup
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    w.training_panel.auto_stop.setChecked(False)
    qtbot.keyClick(w, Qt.Key_T, Qt.ControlModifier)  # Train
    assert w.training_running()
    qtbot.waitUntil(lambda: len(w._errors) >= 1, timeout=120_000)
    qtbot.keyClick(w, Qt.Key_T, Qt.ControlModifier)  # Stop
    qtbot.waitUntil(lambda: not w.training_running(), timeout=60_000)
    cid = w.project.clips_of("oboe")[0].id
    w.classes.tree.clearSelection()
    w.classes.clip_item(cid).setSelected(True)
    qtbot.keyClick(w.classes.tree, Qt.Key_Delete)  # Delete
    assert cid not in w.project.clips
    qtbot.keyClick(w, Qt.Key_Z, Qt.ControlModifier)  # Undo
    assert cid in w.project.clips


def test_plateau_is_shown_and_stops_training(qtbot, trained_setup):
    w = trained_setup
    tp = w.training_panel
    tp.apply_preset("Seed article (3 sigmoid)")
    tp.batch_size.setValue(8)
    tp.auto_stop.setChecked(True)
    assert w.start_training()
    qtbot.waitUntil(lambda: not w.training_running(), timeout=300_000)  # it stops by itself
    assert w.last_result.stopped_by == "plateau"
    assert "Plateau" in tp.plateau.text()
    assert len(w._errors) >= 6  # the rule needs fits before and after to compare


def test_seed_features_pitch_and_confidence_only(qtbot, window, assets_dir):
    w = window
    assert w.set_features(("pitch", "confidence"))
    w.add_class("oboe")
    drop_on_class(qtbot, w, "oboe", notes(assets_dir, "oboe", 1))
    assert w.project.columns == ["pitch", "confidence"]
    assert not w.set_features(("pitch", "confidence", "mfcc"))  # fixed once there are clips
    w.autosave(blocking=True)
    assert Project.open(w.project.folder).columns == ["pitch", "confidence"]


def test_preset_box_names_what_the_fields_hold(qtbot, window):
    tp = window.training_panel
    tp.apply_preset("Seed article (3 sigmoid)")
    assert tp.preset.currentText() == "Seed article (3 sigmoid)"
    tp.learn_rate.setValue(0.02)              # an edit: the fields no longer are the seed's preset
    assert tp.preset.currentText() == "Custom"
    tp.set_settings({"algorithm": "mlp", "hidden": [3, 3], "activation": "relu", "max_iter": 1000,
                     "learn_rate": 0.01, "momentum": 0.5, "batch_size": 50, "validation": 0.2})
    assert tp.preset.currentText() == "FluCoMa defaults (3 3 relu)"
    tp.set_settings({"hidden": [8]})         # e.g. a project saved with its own network
    assert tp.preset.currentText() == "Custom"
