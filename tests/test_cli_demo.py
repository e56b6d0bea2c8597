"""`timbrel demo` with its defaults: the README's numbers come from this run."""
from __future__ import annotations

import re

from test_cli import timbrel


def test_demo_reaches_95_percent_per_clip_accuracy(tmp_path):
    model = tmp_path / "demo.timbrel.json"
    r = timbrel("demo", "--out", model)
    assert r.returncode == 0, r.stderr
    fits = [line for line in r.stdout.splitlines() if line.startswith("fit ")]
    assert len(fits) >= 1
    m = re.search(r"per-clip accuracy on assets/test: (\d+)/(\d+)", r.stdout)
    assert m, r.stdout
    correct, total = int(m.group(1)), int(m.group(2))
    assert total >= 30
    assert correct / total >= 0.95, r.stdout
    per_file = re.findall(r"^  (ok   |WRONG) test/\w+/(oboe|trombone)/\S+\.flac +-> (oboe|trombone) +[\d.]+%$",
                          r.stdout, flags=re.M)                 # one line per test clip
    assert len(per_file) == total and sum(mark == "ok   " for mark, *_ in per_file) == correct
    assert model.exists()

