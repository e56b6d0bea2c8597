"""The bundled trombone/oboe example as a read-only project, built once from assets/train.

It lives in the app's data folder (not in assets/, which stays as shipped) and is opened read-only:
the first edit copies it to a new project, so the example is always there to return to.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from app.project import PROJECT_FILE, app_data_dir

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def demo_folder() -> Path:
    return app_data_dir() / "demo"


def demo_ready() -> bool:
    return (demo_folder() / PROJECT_FILE).exists()


def demo_files(assets: Path = ASSETS) -> list[tuple[Path, str]]:
    """(file, label) for every training note; the label is its folder's name."""
    from app.analysis import find_audio_files, label_for

    train = assets / "train"
    if not train.is_dir():
        raise FileNotFoundError(f"The example sounds are missing ({train}); run scripts/make-assets.")
    return [(f, label_for(f)) for f in find_audio_files([train])]


def start_demo_folder() -> Path:
    """A fresh folder to build the demo in (renamed into place when complete, so it is never half-made)."""
    tmp = app_data_dir() / f".demo-building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def finish_demo(tmp: Path) -> Path:
    final = demo_folder()
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final
