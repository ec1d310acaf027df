"""A job's start-up imports what every run needs, not the model libraries only a training run uses.

scikit-learn, SciPy, joblib, statsmodels and pandas took some 8 s of every `python -m jobs.run` before the
first line of work (`python -X importtime`), also for a run with nothing new or a bronze-only run. They are
imported where a model is fitted, scored or saved, or a pandas frame is made.
"""

from __future__ import annotations

import json
import subprocess
import sys

from lakehouse.config import REPO_ROOT

HEAVY = ("sklearn", "scipy", "joblib", "statsmodels", "pandas")


def modules_after(statement: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after running `statement`."""
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_jobs_start_without_the_model_libraries() -> None:
    loaded = modules_after("import jobs.run, jobs.pipeline, lakehouse.stages, lakehouse.gold.run")
    assert "pyspark" in loaded and "lakehouse" in loaded  # the probe saw the imports happen
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_training_a_model_still_imports_them_where_it_happens() -> None:
    loaded = modules_after(
        "from lakehouse.gold import kudos_prediction as kp\n"
        "import numpy as np\n"
        "kp.pipeline()\n"
        "from lakehouse.gold import workout_classification as wc\n"
        "wc.fit(np.array([[1.0, 2.0], [2.0, 1.0], [9.0, 9.0], [8.0, 9.5]]), 2)"
    )
    assert {"sklearn", "scipy"} <= loaded
