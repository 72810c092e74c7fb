"""Bad numbers given to retrain and evaluate on a real command line: one line saying what is wrong, exit non-zero."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retrain", "--regularization", "inf"], "--regularization must be a number from 0 to 1e+06, not 'inf'."),
        (["retrain", "--epochs", "0"], "--epochs must be a whole number from 1 to 100,000, not '0'."),
        (["retrain", "--factors", "x"], "--factors must be a whole number from 1 to 4096, not 'x'."),
        (["retrain", "--validation-fraction", "half"], "--validation-fraction must be between 0 and 1 (exclusive), not 'half'."),
        (["evaluate", "--train", "a.csv", "--test", "b.csv", "--learning-rate", "two"],
         "--learning-rate must be greater than 0 and less than 2, not 'two'."),
    ],
)
def test_a_bad_training_option_is_one_line_and_a_failed_exit(tmp_path, args, message):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG"}}
    env.update(DJANGO_SETTINGS_MODULE="bookrec_site.test_settings", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"CommandError: {message}"]
