"""app.training: repeated fits, plateau rule, stopping from another thread, per-clip evaluation."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from app.training import Trainer, TrainSettings, evaluate, plateaued
from model.dataset import DataSet, LabelSet


def blobs(n_clips: int = 6, frames: int = 20, seed: int = 0) -> tuple[DataSet, LabelSet]:
    """Two classes of 'clips', each a cloud of frames around its class centre."""
    rng = np.random.default_rng(seed)
    ds, ls = DataSet(3), LabelSet()
    for label, centre in (("low", [0.0, 0.0, 5.0]), ("high", [3.0, 3.0, 5.5])):
        for c in range(n_clips):
            for f in range(frames):
                pid = f"{label}/clip{c}-{f}"
                ds.add_point(pid, np.asarray(centre) + rng.normal(0, 0.6, 3))
                ls.add_label(pid, label)
    return ds, ls


def quick(**kw) -> TrainSettings:
    return TrainSettings(**{"hidden": (4,), "max_iter": 20, "fits": 3, "seed": 3, **kw})


@pytest.mark.parametrize("errors, expected", [
    ([0.5, 0.4, 0.3], False),                              # too few fits to judge
    ([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01], False),        # still improving a lot
    ([0.5, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], True),           # flat for 5 fits
    ([0.5, 0.3, 0.299, 0.2985, 0.298, 0.2979, 0.2978], True),   # < 1 % better than 0.3
    ([0.5, 0.3, 0.31, 0.32, 0.33, 0.34, 0.25], False),     # the last fit found a better minimum
    ([0.5, 0.0], True),                                    # nothing left to learn
])
def test_plateau_rule(errors, expected):
    assert plateaued(errors, fits=5, tolerance=0.01) is expected


def test_runs_the_requested_number_of_fits_and_reports_each():
    ds, ls = blobs()
    seen_fits, seen_epochs = [], []
    result = Trainer(ds, ls, quick(fits=4), on_fit=seen_fits.append,
                     on_epoch=lambda e, t, v: seen_epochs.append(e)).run()
    assert [r.fit for r in result.reports] == [1, 2, 3, 4] == [r.fit for r in seen_fits]
    assert result.stopped_by == "fits"
    assert all(np.isfinite(r.error) for r in result.reports)
    assert seen_epochs == list(range(1, len(seen_epochs) + 1))   # counted across fits
    assert sum(r.epochs for r in result.reports) == len(seen_epochs)
    assert result.reports[-1].best_error == min(r.error for r in result.reports)


def test_learns_separable_clips():
    ds, ls = blobs()
    trainer = Trainer(ds, ls, quick(fits=10, max_iter=50))
    result = trainer.run()

    class Scaled:   # the same composition a Bundle does: scaler, then model
        def predict_proba_point(self, v):
            return result.model.predict_proba_point(result.scaler.transform_point(v))

    ev = evaluate(Scaled(), *blobs(seed=1))
    assert ev.accuracy == 1.0


def test_until_plateau_stops_before_the_cap():
    ds, ls = blobs()
    result = Trainer(ds, ls, quick(until_plateau=True, max_fits=60, plateau_fits=3)).run()
    assert result.stopped_by in ("plateau", "max_fits")
    errors = [r.error for r in result.reports]
    if result.stopped_by == "plateau":
        assert plateaued(errors, 3, 0.01) and not plateaued(errors[:-1], 3, 0.01)
    else:
        assert len(errors) == 60


def test_stop_from_another_thread_ends_training():
    ds, ls = blobs()
    started = threading.Event()
    trainer = Trainer(ds, ls, quick(fits=10_000, max_iter=1000, validation=0.0),
                      on_epoch=lambda e, t, v: started.set())
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("result", trainer.run()))
    worker.start()
    assert started.wait(60)
    trainer.stop()
    worker.join(60)
    assert not worker.is_alive()
    assert out["result"].stopped_by == "stop"
    assert len(out["result"].reports) < 10_000


def test_run_after_stop_continues_the_same_network():
    ds, ls = blobs()
    epochs = []
    trainer = Trainer(ds, ls, quick(fits=2, validation=0.0), on_epoch=lambda e, t, v: epochs.append(e))
    first = trainer.run()
    trainer.stop()                      # e.g. the GUI's Stop button between two runs
    second = trainer.run()
    assert second.stopped_by == "fits" and len(second.reports) == 2
    assert second.model is first.model
    assert epochs == list(range(1, len(epochs) + 1)) and trainer.model.epochs == len(epochs)
    assert second.reports[-1].error < first.reports[0].error


def test_the_callers_stop_event_is_kept_when_set_before_the_run_begins():
    # Trainer.stop() before run() is forgotten (the test above); the run's own event is not: the
    # GUI's Stop can land while the training thread is still starting, before run() is reached.
    ds, ls = blobs()
    trainer = Trainer(ds, ls, quick(fits=10_000, validation=0.0))
    stop = threading.Event()
    stop.set()
    trainer.stop()
    result = trainer.run(stop=stop)
    assert result.stopped_by == "stop" and result.reports == []


def test_a_stop_while_the_training_thread_starts_is_not_lost():
    from app.gui.workers import TrainWorker

    class Gui:  # stands in for the GUI queue: records what the worker posts
        def __init__(self):
            self.calls = []

        def post(self, fn, *args):
            self.calls.append((fn, args))

    ds, ls = blobs()
    trainer = Trainer(ds, ls, quick(fits=10_000, validation=0.0))
    release = threading.Event()
    finished: list = []
    gui = Gui()
    worker = TrainWorker(trainer, gui, epochs_ready=lambda: None, fit_done=lambda r: None,
                         finished=finished.append, failed=lambda m: None, prepare=lambda: release.wait(60))
    thread = worker.start()
    worker.stop()   # Stop pressed before the (busy, low-priority) thread has reached Trainer.run
    release.set()
    thread.join(60)
    assert not thread.is_alive(), "the stop was lost: training ran on"
    for fn, args in gui.calls:
        fn(*args)
    assert finished and finished[-1].stopped_by == "stop"


def test_same_seed_same_errors():
    ds, ls = blobs()
    a = [r.error for r in Trainer(ds, ls, quick()).run().reports]
    b = [r.error for r in Trainer(ds, ls, quick()).run().reports]
    assert a == b


def test_knn_fits_once():
    ds, ls = blobs()
    result = Trainer(ds, ls, TrainSettings(algorithm="knn", num_neighbours=3)).run()
    assert result.stopped_by == "knn" and len(result.reports) == 1
    assert max(result.model.predict_proba_point(result.scaler.transform_point(ds.get_point("high/clip0-0"))).items(),
               key=lambda kv: kv[1])[0] == "high"


def test_one_class_is_refused():
    ds, ls = DataSet(1), LabelSet()
    for i in range(5):
        ds.add_point(f"a-{i}", [float(i)])
        ls.add_label(f"a-{i}", "only")
    with pytest.raises(ValueError, match="two classes"):
        Trainer(ds, ls, quick()).run()


@pytest.mark.parametrize("bad", [dict(algorithm="svm"), dict(hidden=(0,)), dict(learn_rate=0),
                                 dict(validation=1.0), dict(fits=0), dict(activation="gelu")])
def test_bad_settings_raise(bad):
    with pytest.raises(ValueError):
        TrainSettings(**bad)


def test_settings_round_trip():
    s = quick(until_plateau=True, hidden=(5, 6))
    assert TrainSettings.from_dict(s.to_dict()) == s


def test_evaluate_uses_mean_probability_per_clip():
    ds, ls = DataSet(1), LabelSet()
    # clip "x": two frames mildly for "a", one strongly for "b" -> mean favours "b"
    for pid, v, label in [("x-0", 0.6, "a"), ("x-1", 0.6, "a"), ("x-2", 0.0, "a"),
                          ("y-0", 0.9, "b"), ("y-1", 0.8, "b")]:
        ds.add_point(pid, [v])
        ls.add_label(pid, label)

    class Fake:
        def predict_proba_point(self, v):
            return {"a": float(v[0]), "b": 1.0 - float(v[0])}

    ev = evaluate(Fake(), ds, ls)
    assert ev.classes == ["a", "b"]
    by_clip = {c.clip_id: c for c in ev.clips}
    assert by_clip["x"].predicted == "b" and by_clip["x"].probabilities["b"] == pytest.approx(0.6)
    assert by_clip["y"].predicted == "a"
    assert ev.confusion.tolist() == [[0, 1], [1, 0]]
    assert ev.accuracy == 0.0
