"""Airflow example: run possync pipelines and map its exit codes to Airflow's task states.

One task per pipeline file (dynamic task mapping), every 15 minutes. Each task runs
`possync run FILE --report REPORT --quiet` on the worker (possync installed there, or the image of
deploy/Dockerfile in a KubernetesPodOperator: see the end of this file) and maps its exit code:

    0   success, or nothing to change          -> success
    1   failure (API down, changes rejected)   -> AirflowException: failed, retried by Airflow (retries)
    2   invalid configuration                  -> AirflowFailException: failed, never retried
    3   a guard blocked the apply              -> AirflowFailException: failed, never retried; a person
                                                  reviews the plan and runs with --allow-mass-change
    75  another run holds the pipeline's lock  -> AirflowException: retried after retry_delay; the holder is
                                                  doing the work, so the retry usually finds nothing to do
    130 SIGINT/SIGTERM stopped the run         -> AirflowException: retried; the batch the sink had taken
                                                  was recorded, the retry applies the rest

The codes are possync's (runner/outcome/outcome.go); cmd/possync's TestDeployManifests checks that the
constants below match them. docs/deploy.md explains each code.

Requires Airflow 2.6+ (dynamic task mapping, AirflowFailException). Secrets: POSSYNC_STATE_URL and each
merchant's ${VAR}s come from the worker's environment (or an Airflow Connection/Variable you export there);
possync never prints them.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from airflow.decorators import dag, task
from airflow.exceptions import AirflowException, AirflowFailException

# possync's exit codes (runner/outcome).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INVALID = 2
EXIT_BLOCKED = 3
EXIT_LOCKED = 75
EXIT_INTERRUPTED = 130

POSSYNC = os.environ.get("POSSYNC_BIN", "possync")
PIPELINE_DIR = Path(os.environ.get("POSSYNC_PIPELINE_DIR", "/etc/possync/pipelines"))


def outcome(code: int, pipeline: str, report: dict) -> str:
    """Maps a possync exit code to the task's outcome: returns on success, raises otherwise."""
    reason = report.get("exit_reason", "")
    error = report.get("error", "")
    if code == EXIT_OK:
        return reason or "applied"
    if code == EXIT_LOCKED:
        # Another run (another worker, a CronJob, a person) holds the lock: try again later.
        raise AirflowException(f"{pipeline}: locked by another run, retry later: {error}")
    if code == EXIT_INVALID:
        raise AirflowFailException(f"{pipeline}: invalid configuration (not retried): {error}")
    if code == EXIT_BLOCKED:
        raise AirflowFailException(
            f"{pipeline}: a guard blocked the apply (not retried); review the plan, then run with "
            f"--allow-mass-change if the change is intended: {error}")
    if code == EXIT_INTERRUPTED:
        # Stopped by a signal (the task killed, a worker shutting down): the retry applies the rest.
        raise AirflowException(f"{pipeline}: interrupted, retry: {error}")
    # 1, and anything unexpected (a signal: negative code): a failure Airflow retries.
    raise AirflowException(f"{pipeline}: failed with exit code {code} ({reason}): {error}")


@dag(
    dag_id="possync",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # with the lock, one DAG run at a time is enough
    default_args={"retries": 3, "retry_delay": timedelta(minutes=2), "retry_exponential_backoff": True},
    tags=["possync"],
)
def possync_fleet():
    @task
    def pipelines() -> list[str]:
        return sorted(str(p) for p in PIPELINE_DIR.glob("*.yaml"))

    @task(max_active_tis_per_dag=8)  # how many pipelines run at once on the workers
    def run(pipeline: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            report_path = Path(tmp) / "report.json"
            proc = subprocess.run(
                [POSSYNC, "run", pipeline, "--report", str(report_path), "--quiet"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            print(proc.stdout)  # possync's errors and logs, secrets masked
            report = {}
            if report_path.exists():
                report = json.loads(report_path.read_text())
            return outcome(proc.returncode, pipeline, report)

    run.expand(pipeline=pipelines())


possync_fleet()

# With the Kubernetes provider, the same run in a Pod from deploy/Dockerfile's image:
#
#   from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
#   KubernetesPodOperator(
#       task_id="acme_retail_ecom",
#       image="ghcr.io/possync/possync:latest",
#       arguments=["run", "/etc/possync/pipelines/acme-retail-ecom.yaml", "--quiet", "--log-format", "json"],
#       env_from=[...],                   # the Secrets possync-state and possync-acme-outdoor
#       skip_on_exit_code=None,           # 75 fails the try and Airflow retries it (retries, retry_delay)
#       retries=3, retry_delay=timedelta(minutes=2),
#   )
#
# KubernetesPodOperator cannot tell 2 and 3 (never retry) from 1 and 75 (retry) by itself: use the @task
# above (or an on_retry_callback reading the Pod's exit code) when that distinction matters.
