#!/bin/sh
# run-in-container.sh [--or-direct] IMAGE COMMAND...: run COMMAND inside IMAGE with apptainer
# or singularity.
#
# Without a container runtime or without IMAGE, the task FAILS (exit 3) and says why: a run
# that was meant to use the image never silently runs on the host instead.  With
# --or-direct (the experiment asks for it in its `executable:`), it runs COMMAND directly
# instead, and says so on stderr (the task's .out), every time.
set -eu
direct=no
if [ "${1-}" = "--or-direct" ]; then
    direct=yes
    shift
fi
[ $# -ge 2 ] || { echo "usage: run-in-container.sh [--or-direct] IMAGE COMMAND..." >&2; exit 2; }
image=$1
shift
runtime=
for candidate in apptainer singularity; do
    if command -v "$candidate" >/dev/null 2>&1; then
        runtime=$candidate
        break
    fi
done
if [ -n "$runtime" ] && [ -f "$image" ]; then
    exec "$runtime" exec "$image" "$@"
fi
if [ -z "$runtime" ]; then why="no apptainer or singularity on PATH"; else why="no image $image"; fi
if [ "$direct" = yes ]; then
    echo "run-in-container.sh: $why; running WITHOUT the container (--or-direct)" >&2
    exec "$@"
fi
echo "run-in-container.sh: $why; not running (build the image, or add --or-direct to run without it)" >&2
exit 3
