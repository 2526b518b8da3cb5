#!/bin/sh
# run-in-container.sh IMAGE COMMAND...: run COMMAND in IMAGE with apptainer or singularity
# when one is installed and IMAGE exists; otherwise run it directly, and say so.
set -eu
image=$1
shift
for runtime in apptainer singularity; do
    if command -v "$runtime" >/dev/null 2>&1 && [ -f "$image" ]; then
        exec "$runtime" exec "$image" "$@"
    fi
done
echo "run-in-container.sh: no container runtime or no $image; running directly" >&2
exec "$@"
