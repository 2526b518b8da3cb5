#!/usr/bin/env python3
"""Report step of the polynome2 example: summarise the training tasks.

The `report` rule waits for every `train` task (a gather), so when this runs
every training task is finished. It prints one line per task and the best one.

Where the outputs are: under the Balsam launcher, each job runs in its own
working directory, $BALSAM_DB_PATH/data/<workflow>/<job name>_<first 8 hex of
the job id>/, and its standard output is the `<job name>.out` file in it. The
launcher tells a job its parents' ids in $BALSAM_PARENT_IDS (a JSON list), so
this script finds the parents' directories from those two variables and reads
the last `DH-OUTPUT` line (and the `point:` line) of each one's .out file.

By hand, give it directories or .out files to read:

    python3 summarize.py [DIR_OR_FILE ...]

With neither arguments nor a Balsam environment it says so and exits 0: it is a
report, never the reason a workflow fails. (`dhflow results FILE` is the
supported way to get the objectives; this only shows a gather rule at work.)
"""
import glob
import json
import os
import sys

MARKER = "DH-OUTPUT"


def parent_outputs():
    """The .out files of this job's parents, when running under Balsam."""
    db = os.environ.get("BALSAM_DB_PATH")
    raw = os.environ.get("BALSAM_PARENT_IDS")
    if not db or not raw:
        return None
    try:
        ids = [str(i) for i in json.loads(raw)]
    except ValueError:
        ids = [i.strip(" '\"") for i in raw.strip("[]").split(",") if i.strip()]
    files = []
    for job_id in ids:
        short = job_id.replace("-", "")[:8]
        files.extend(sorted(glob.glob(os.path.join(db, "data", "*", f"*_{short}", "*.out"))))
    return files


def expand(paths):
    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(sorted(glob.glob(os.path.join(path, "*.out"))))
        else:
            files.append(path)
    return files


def read_task(path):
    """(objective or None, point text or '') from one task's output."""
    objective, point = None, ""
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith(MARKER):
                    value = line[len(MARKER):].strip().lstrip(":").strip()
                    try:
                        objective = float(value)
                    except ValueError:
                        objective = None
                elif line.startswith("point:"):
                    point = line[len("point:"):].strip()
    except OSError as exc:
        point = f"(unreadable: {exc})"
    return objective, point


def main(argv):
    files = expand(argv[1:]) if len(argv) > 1 else parent_outputs()
    if files is None:
        print("summarize: not running under Balsam and no outputs given; "
              "nothing to summarise (try `dhflow results polynome2.dhflow`).")
        return 0
    if not files:
        print("summarize: found no task outputs to read.")
        return 0

    rows = []
    for path in files:
        objective, point = read_task(path)
        rows.append((objective, os.path.basename(path), point))
    rows.sort(key=lambda r: (r[0] is None, -(r[0] or 0.0)))

    print(f"summarize: {len(rows)} training task(s), best first (objective: validation R^2)")
    for objective, name, point in rows:
        shown = "no objective" if objective is None else f"{objective: .6f}"
        print(f"  {shown:>13}  {name}  {point}")
    best = rows[0]
    if best[0] is not None:
        print(f"best: {best[0]:.6f} {best[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
