#!/usr/bin/env bash
# Set up dhflow from nothing on a fresh machine and run a real example end to end.
#
#   bash scripts/setup.sh            # venv + install + check/plan/graph + `dhflow run` of polynome2
#   bash scripts/setup.sh --no-demo  # venv + install only
#
# Needs: python3 (>= 3.10) with venv, and the PostgreSQL server binaries (initdb, pg_ctl)
# for the Balsam database (Debian: postgresql). Run as root on Debian, it also installs what
# is missing of: Debian's MPICH (real MPI for `dhflow run`; without any MPI dhflow falls back
# to its mpirun stand-in, one process per rank, no MPI communication), and Chromium with its
# chromedriver (the report's images and its browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

mpi=""
command -v mpirun >/dev/null 2>&1 || mpi="mpich"
missing=""
{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } \
    || missing="$missing chromium chromium-driver fonts-liberation"
if [ -n "$mpi$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing $mpi$missing (apt-get)"
        apt-get update -qq
        export DEBIAN_FRONTEND=noninteractive
        if [ -n "$mpi" ]; then
            apt-get install -y -qq mpich >/dev/null || echo "setup: could not install mpich: dhflow will use its mpirun stand-in"
        fi
        if [ -n "$missing" ]; then
            # shellcheck disable=SC2086
            apt-get install -y -qq --no-install-recommends $missing >/dev/null
        fi
    else
        [ -z "$mpi" ] || echo "setup: no mpirun: dhflow will use its stand-in (one process per rank, no MPI); for real MPI: sudo apt-get install mpich"
        [ -z "$missing" ] || echo "setup: the report's images and browser tests need chromium: sudo apt-get install$missing"
    fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# (the project's dependencies include Optuna and cmaes, for `search:`; DeepHyper, for
# `search: cbo(...)`, is the optional extra `deephyper`: about 430 MB, installed here so that
# its tests run rather than skip; a user who does not need `cbo` can leave it out)
.venv/bin/python -m pip install --quiet -e '.[balsam,deephyper,lsp,report,test]'
echo "setup: dhflow $(.venv/bin/dhflow --version | cut -d' ' -f2) installed in .venv"

# The TextMate grammar's tests tokenize with VS Code's engine (npm: vscode-textmate,
# vscode-oniguruma) in node; install node and npm when running as root without them.
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1; then
    (cd tests/editors && npm ci --no-audit --no-fund --silent)
else
    echo "setup: npm not found; the TextMate grammar tests (tests/editors) need node and npm" >&2
fi

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
