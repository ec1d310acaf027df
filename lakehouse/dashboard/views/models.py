"""Models and transparency: the k-means parameters and centroids, the registry with data versions, why a
workout got its label; retrain with a chosen k and threshold (a new version), or roll back to an earlier one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from lakehouse.dashboard.common import Context, pick_person, table
from lakehouse.dashboard.data import for_person
from lakehouse.dashboard.models import load_kmeans
from lakehouse.gold.workout_classification import FEATURES, OUTLIER_DISTANCE, K

REGISTRY = ("ops", "model_registry")
ACTIVE = ("ops", "classification_active")
LABELS = ("gold", "workout_classification")
KUDOS_RUNS = ("ops", "kudos_model_runs")
JOB_KEY = "classify_job"


def classify_command(args: list[str]) -> list[str]:
    """The `python -m jobs.classify` command line the page launches."""
    return [sys.executable, "-m", "jobs.classify", *args]


def _launch(args: list[str]) -> None:
    log = Path(tempfile.mkstemp(prefix="classify-", suffix=".log")[1])
    handle = log.open("w")
    process = subprocess.Popen(classify_command(args), stdout=handle, stderr=subprocess.STDOUT,
                               env=dict(os.environ), cwd=Path(__file__).resolve().parents[3])
    st.session_state[JOB_KEY] = {"process": process, "log": str(log), "args": " ".join(args)}


def _job_status() -> None:
    job = st.session_state.get(JOB_KEY)
    if not job:
        return
    process: subprocess.Popen = job["process"]
    code = process.poll()
    text = Path(job["log"]).read_text(errors="replace")[-3000:] if Path(job["log"]).exists() else ""
    if code is None:
        st.info(f"running: `jobs.classify {job['args']}` (pid {process.pid})")
    elif code == 0:
        st.success(f"finished: `jobs.classify {job['args']}`; the tables below show the new state")
    else:
        st.error(f"failed (exit {code}): `jobs.classify {job['args']}`")
    st.code(text or "(no output yet)", language="text")
    if code is None:
        st.button("refresh status", key="classify_refresh")


def render(ctx: Context) -> None:
    """The page."""
    lake = ctx.lake
    lake.require(REGISTRY)
    registry = lake.df(*REGISTRY)
    kmeans = registry[registry["model_name"] == "workout_kmeans"].sort_values("trained_at")
    person = pick_person(kmeans)
    kmeans = for_person(kmeans, person)
    active = lake.df(*ACTIVE) if lake.exists(*ACTIVE) else pd.DataFrame(columns=["person_id", "model_version"])
    active = for_person(active, person).sort_values("activated_at") if len(active) else active
    active_version = active["model_version"].iloc[-1] if len(active) else None
    if active_version is None and len(kmeans):
        in_use = for_person(lake.df(*LABELS), person)["model_path"].dropna() if lake.exists(*LABELS) else pd.Series()
        match = kmeans[kmeans["path"].isin(set(in_use))]
        active_version = match["model_version"].iloc[-1] if len(match) else kmeans["model_version"].iloc[-1]

    st.subheader("Registry")
    shown = kmeans.assign(active=kmeans["model_version"] == active_version)
    table(shown[["model_version", "active", "data_table", "data_version", "n_train", "trained_at", "path"]])
    if len(active):
        with st.expander("activations and rollbacks"):
            table(active)
    if kmeans.empty:
        st.info("No k-means model yet: the gold stage trains one when an athlete has enough on-foot workouts.")
        return

    versions = kmeans["model_version"].tolist()
    chosen = st.selectbox("model version", versions, index=versions.index(active_version), key="models_version")
    entry = kmeans[kmeans["model_version"] == chosen].iloc[-1]
    meta = json.loads(entry["metadata"] or "{}")
    st.subheader("Parameters and centroids")
    st.write({"k": meta.get("k", K), "seed": meta.get("seed"), "features": meta.get("features", list(FEATURES)),
              "outlier_distance": meta.get("outlier_distance", OUTLIER_DISTANCE),
              "label_of_cluster": meta.get("label_of_cluster")})
    model = None
    try:
        model = load_kmeans(entry["path"], entry["metadata"])
        st.caption("centroids in the features' units (pace min/mi, distance mi, duration min)")
        table(model.centroids_in_units().round(3))
    except (FileNotFoundError, StopIteration, OSError):
        st.caption(f"the saved model is not readable here ({entry['path']}); centroids in standardised units:")
        table(pd.DataFrame(meta.get("centroids", []), columns=list(FEATURES)))

    if lake.exists(*LABELS) and model is not None:
        st.subheader("Why did this workout get its label?")
        labels = for_person(lake.df(*LABELS), person).sort_values("workout_date", ascending=False)
        workout = st.selectbox("workout", labels["workout_id"].tolist(), key="models_workout",
                               format_func=lambda w: f"{w} ({labels.set_index('workout_id').at[w, 'label']})")
        row = labels[labels["workout_id"] == workout].iloc[0]
        x = np.array([[row[f] for f in FEATURES]], dtype=float)
        distances = model.distances(x)[0]
        explained = model.classify(x).iloc[0]
        reasons = pd.DataFrame({"cluster": range(len(distances)),
                              "label": [model.label_of_cluster.get(i, "?") for i in range(len(distances))],
                              "distance (standardised)": np.round(distances, 4)})
        st.markdown(
            f"Pace {row['pace_min_per_mile']:.2f} min/mi, {row['distance_mi']:.2f} mi, {row['duration_min']:.0f} min. "
            f"Nearest centroid: cluster {int(explained['cluster'])} at {explained['centroid_distance']:.3f}; "
            f"label **{explained['label']}** (beyond {model.outlier_distance} from every centroid, or an implausible "
            f"pace, would make it an outlier). Confidence (d2 - d1) / (d2 + d1) = {explained['confidence']:.3f}. "
            f"Stored in gold: **{row['label']}** ({row['method']}, confidence {row['confidence']:.3f})."
        )
        table(reasons)

    st.subheader("Retrain or roll back")
    _job_status()
    running = bool(st.session_state.get(JOB_KEY)) and st.session_state[JOB_KEY]["process"].poll() is None
    athlete = entry["person_id"]
    with st.form("retrain"):
        cols = st.columns(2)
        k = cols[0].slider("k (clusters)", 2, 6, int(meta.get("k", K)))
        distance = cols[1].number_input("outlier distance (standardised)", 0.5, 10.0,
                                        float(meta.get("outlier_distance", OUTLIER_DISTANCE)), 0.5)
        if st.form_submit_button("Train a new version and activate it", disabled=running):
            _launch(["--k", str(k), "--outlier-distance", str(distance), "--athlete", str(athlete), "--activate"])
            st.rerun()
    earlier = [v for v in versions if v != active_version]
    if earlier:
        cols = st.columns([3, 1])
        target = cols[0].selectbox("roll back to", earlier, index=len(earlier) - 1, key="models_rollback")
        if cols[1].button("Roll back", disabled=running, key="models_rollback_go"):
            _launch(["--rollback", target])
            st.rerun()
    if lake.exists(*KUDOS_RUNS):
        st.subheader("Kudos model runs")
        table(lake.df(*KUDOS_RUNS).sort_values("trained_at", ascending=False))
