#!/bin/sh
# Build the model of the fortran_model example into this folder, as ./model.
#
#   sh build.sh
#
# The Fortran source (model.f90) is used when gfortran (or $FC) is available,
# the C source (model.c) otherwise; both give the same program. Force one with
#   DHFLOW_MODEL_LANG=c sh build.sh        or        DHFLOW_MODEL_LANG=fortran sh build.sh
#
# This is the `build` rule of the workflow: a single task that every evaluation
# task waits for. Balsam runs it in a working directory of its own, so every path
# here is relative to this script, never to the current directory. The program
# is compiled to a temporary name and renamed into place, so a task never sees
# half a binary. POSIX sh.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
lang=${DHFLOW_MODEL_LANG:-auto}
fc=${FC:-gfortran}
cc=${CC:-cc}

if [ "$lang" = auto ]; then
    if command -v "$fc" >/dev/null 2>&1; then lang=fortran; else lang=c; fi
fi

tmp="$here/.model.$$"
trap 'rm -f "$tmp" "$here"/*.mod' EXIT

case $lang in
    fortran)
        # -J: keep any module files out of the working directory
        echo "build.sh: $fc -O2 -o model model.f90"
        "$fc" -O2 -J "$here" -o "$tmp" "$here/model.f90"
        ;;
    c)
        echo "build.sh: $cc -O2 -std=c99 -o model model.c -lm"
        "$cc" -O2 -std=c99 -Wall -o "$tmp" "$here/model.c" -lm
        ;;
    *)
        echo "build.sh: DHFLOW_MODEL_LANG must be c, fortran or auto, not '$lang'" >&2
        exit 2
        ;;
esac

mv -f "$tmp" "$here/model"
echo "build.sh: built $here/model ($lang)"
