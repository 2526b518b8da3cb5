"""The search's Optuna study kept in the workflow's PostgreSQL (schema dhflow_optuna), seen
through Optuna's own API at the URL `dhflow search-storage` prints: after a real run it holds
exactly the finished evaluations with their values; a driver that died after asking Optuna
(a RUNNING trial no dhflow trial recorded) has its point reused, not lost nor duplicated; a
study whose values disagree with the jobs is rebuilt from the trials; `dhflow clean` removes it.

The incremental writes of the proposals give exactly the jobs a full write of the plan of
every trial would: a full-plan dry run finds nothing to add, rerun or orphan.

MPI job mode: the serial mode's host-wide lock would line these runs up behind others."""
from __future__ import annotations

import json
import os

import pytest

from .conftest import db_query, make_project, run_dhflow
from .test_search import QUAD

pytestmark = pytest.mark.e2e


def _study(path, env):
    import optuna

    r = run_dhflow(["search-storage", path], env)
    assert r.returncode == 0, r.stderr
    url = r.stdout.strip()
    assert "search_path" in url and "dhflow_optuna" in url
    name = r.stderr.split("Optuna study '")[1].split("'")[0]
    return url, name, optuna.load_study(study_name=name, storage=url)


def _evaluations(path, env):
    r = run_dhflow(["results", path, "--format", "json"], env)
    assert r.returncode == 0, r.stderr
    return {rec["trial"]: rec["objective"] for rec in json.loads(r.stdout)}


def _labelled(study):
    from optuna.trial import TrialState

    done = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    return {t.user_attrs["dhflow_trial"]: t.values[0] for t in done}, done


def test_study_in_postgres_holds_exactly_the_evaluations_and_is_reconciled(balsam_db, e2e_root):
    from optuna.trial import TrialState

    db, env = balsam_db
    wf = "sq_store"
    path = make_project(e2e_root, wf, QUAD.format(wf=wf, evals=5))
    r = run_dhflow(["run", path, "--job-mode", "mpi", "--timeout", "0.01"], env, cwd=path.parent)
    assert r.returncode in (0, 3, 5) and "Traceback" not in r.stderr, r.stderr  # stopped by --timeout
    r = run_dhflow(["clean", path, "--yes"], env, cwd=path.parent)  # the database exists, no study yet
    assert r.returncode == 0, r.stderr
    r = run_dhflow(["search-storage", path], env)
    assert r.returncode == 0 and "not created yet" in r.stderr, r.stderr
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    url, name, study = _study(path, env)
    assert name.startswith(f"dhflow:{wf}:")
    evaluations = _evaluations(path, env)
    by_trial, done = _labelled(study)
    assert len(done) == len(study.get_trials()) == 5  # nothing else: no RUNNING, no FAIL
    assert by_trial == pytest.approx(evaluations) and sorted(by_trial) == list(range(5))
    # the tables live in their own schema, Balsam's stay alone in public
    schemas = {s for (s,) in db_query(db, "SELECT DISTINCT table_schema FROM information_schema.tables "
                                          "WHERE table_name IN ('studies', 'trials')")}
    assert schemas == {"dhflow_optuna"}

    # the jobs written one proposal at a time are those of a full write of every trial's plan
    check = ("import sys; from dhflow.balsam import env, store; from dhflow.balsam.searchstore import load_trials; "
             "from dhflow.runtime.experiment import load_search as load; from dhflow.runtime.search_plan import plan_of; ctx = load(sys.argv[1]); env.activate(sys.argv[2]); "
             "r = store.apply(plan_of(ctx, load_trials(ctx.workflow, ctx.fingerprint)), provenance={}, dry_run=True); "
             "print(len(r.created), len(r.rerun), r.orphaned, len(r.kept))")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", check, str(path), db], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    created, rerun, orphaned, kept = map(int, out.stdout.split())
    assert (created, rerun, orphaned) == (0, 0, 0) and kept == 5

    # a driver that died between asking Optuna and writing the trial: a RUNNING trial with no
    # dhflow trial; the next run proposes that very point (reused), and nothing is lost
    orphan = study.ask()
    orphan_params = {"x": orphan.suggest_float("x", -5, 5), "y": orphan.suggest_int("y", -3, 3)}
    path.write_text(QUAD.format(wf=wf, evals=7))
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    _, _, study = _study(path, env)
    evaluations = _evaluations(path, env)
    by_trial, done = _labelled(study)
    assert sorted(evaluations) == list(range(7))
    assert by_trial == pytest.approx(evaluations)
    assert [t.state for t in study.get_trials()].count(TrialState.RUNNING) == 0
    reused = study.get_trials()[orphan.number]
    assert reused.user_attrs["dhflow_trial"] == 5 and reused.params == pytest.approx(orphan_params)

    # a study that disagrees with the jobs beyond repair is rebuilt from the trials
    db_query(db, "UPDATE dhflow_optuna.trial_values SET value = value + 100 WHERE trial_id = "
                 "(SELECT trial_id FROM dhflow_optuna.trials t JOIN dhflow_optuna.studies s USING (study_id) "
                 "WHERE s.study_name = %s AND t.number = 0)", [name])
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    assert "0 proposed by this run" in r.stderr
    _, _, study = _study(path, env)
    by_trial, done = _labelled(study)
    assert by_trial == pytest.approx(evaluations) and len(study.get_trials()) == 7

    # `dhflow clean` removes the study with the jobs and the trials
    r = run_dhflow(["clean", path, "--yes"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    assert "stored study was left" not in r.stderr
    import optuna

    assert name not in optuna.get_all_study_names(storage=url)
    assert db_query(db, "SELECT count(*) FROM dhflow_search_trial WHERE workflow = %s", [wf]) == [(0,)]


def test_search_storage_of_a_file_without_search_is_a_usage_error(balsam_db, e2e_root):
    _, env = balsam_db
    path = make_project(e2e_root, "sq_nostore", "workflow sq_nostore:\n\nrule a:\n    shell: \"true\"\n")
    r = run_dhflow(["search-storage", path], env)
    assert r.returncode == 2 and "has no `search:`" in r.stderr and "Traceback" not in r.stderr
    assert os.path.exists(path)
