"""Shared test settings. Qt runs offscreen unless a test (or scripts/screenshots) asks for xcb."""
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    return ROOT / "assets"


@pytest.fixture(scope="session")
def test_data_dir() -> Path:
    return ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def copy_train_notes(assets_dir):
    """copy_train_notes(root, per_class): the first per_class v80 notes of each class in
    assets/train, copied into label folders under root (the layout `timbrel train` reads)."""
    def copy(root: Path, per_class: int) -> Path:
        for label in ("oboe", "trombone"):
            (root / label).mkdir()
            for f in sorted((assets_dir / "train" / "fluidr3" / label).glob("*_v80.flac"))[:per_class]:
                shutil.copy(f, root / label / f.name)
        return root
    return copy
