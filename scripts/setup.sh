#!/usr/bin/env bash
# Set up dhflow from nothing on a fresh machine and run a real example end to end.
#
#   bash scripts/setup.sh            # venv + install + check/plan/graph + `dhflow run` of polynome2
#   bash scripts/setup.sh --no-demo  # venv + install only
#
# Needs: python3 (>= 3.10) with venv, and the PostgreSQL server binaries (initdb, pg_ctl)
# for the Balsam database (Debian: postgresql). MPI: run as root on Debian/Ubuntu, this
# installs the distribution's MPICH when no mpirun is on PATH (real MPI for `dhflow run`);
# otherwise dhflow falls back to its mpirun stand-in (one process per rank, no MPI).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mpirun >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing MPICH (apt-get install mpich)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q mpich >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q mpich >/dev/null 2>&1; } \
            || echo "setup: could not install mpich: dhflow will use its mpirun stand-in"
    else
        echo "setup: no mpirun: dhflow will use its stand-in (one process per rank, no MPI); for real MPI: sudo apt-get install mpich"
    fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[balsam,test]'
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
