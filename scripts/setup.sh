#!/usr/bin/env bash
# Set up dhflow from nothing on a fresh machine and run a real example end to end.
#
#   bash scripts/setup.sh            # venv + install + check/plan/graph + `dhflow run` of polynome2
#   bash scripts/setup.sh --no-demo  # venv + install only
#
# Needs: python3 (>= 3.10) with venv, and the PostgreSQL server binaries (initdb, pg_ctl)
# for the Balsam database (Debian: postgresql). No MPI needed: dhflow brings a small mpirun
# stand-in for local runs when none is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[balsam,lsp,test]'
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
