#!/usr/bin/env bash
# Set up dhflow from nothing on a fresh machine and run a real example end to end.
#
#   bash scripts/setup.sh            # venv + install + check/plan/graph + `dhflow run` of polynome2
#   bash scripts/setup.sh --no-demo  # venv + install only
#
# Needs: python3 (>= 3.10) with venv, and the PostgreSQL server binaries (initdb, pg_ctl)
# for the Balsam database (Debian: postgresql). No MPI needed: dhflow brings a small mpirun
# stand-in for local runs when none is installed. Chromium (with its chromedriver) draws the
# report's images and runs the report's browser tests: installed here when running as root
# on Debian and missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
        && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# (the project's dependencies include Optuna and cmaes, for `search:`; DeepHyper's `cbo` is
# the optional extra: pip install -e '.[deephyper]')
.venv/bin/python -m pip install --quiet -e '.[balsam,report,test]'
echo "setup: dhflow $(.venv/bin/dhflow --version | cut -d' ' -f2) installed in .venv"

if [ "${1:-}" = "--no-demo" ]; then
    exit 0
fi

# The venv first on PATH: the launcher's jobs run `python3`, and apps that report their
# objective through Balsam (data("...")) must be able to import it.
export PATH="$PWD/.venv/bin:$PATH"
EXAMPLE=examples/polynome2/polynome2.dhflow
set -x
dhflow check "$EXAMPLE"
dhflow plan "$EXAMPLE"
dhflow graph "$EXAMPLE" --rules --format mermaid
dhflow run "$EXAMPLE"
dhflow results "$EXAMPLE" --format table
# The project-local database keeps the jobs and results; it restarts on demand.
dhflow db stop "$EXAMPLE"
