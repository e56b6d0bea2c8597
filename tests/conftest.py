"""Shared test settings. Qt runs offscreen unless a test (or scripts/screenshots) asks for xcb."""
import os
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
