"""The real-data setting: a wrong SANCTIONS_SHARED_DATA fails loudly instead of skipping every real-data test."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import LISTS, REPO, real_file

# One small real-data test, run in a child pytest with the variable set.
PROBE = "tests/test_importers_real.py::test_ofac_xml_publication_date"


def run_probe(shared_data: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SANCTIONS_SHARED_DATA": shared_data, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", PROBE],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_lists_folder_instead_of_data_folder_fails():
    lists = real_file()  # the lists folder itself: skip where no real data exists at all
    result = run_probe(str(lists))
    assert result.returncode == 1, result.stdout
    assert "has no 'lists' folder" in result.stdout and "1 failed" in result.stdout


def test_data_folder_runs_the_real_data_tests():
    real_file()
    result = run_probe(str(LISTS.parent))
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout
