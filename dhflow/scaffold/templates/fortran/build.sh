#!/bin/sh
# Build ./model next to this script: model.f90 with gfortran (or $FC), else model.c with cc.
# Compiled to a temporary name and renamed, so no task ever sees half a binary.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp="$here/.model.$$"
trap 'rm -f "$tmp"' EXIT
fc=${FC:-gfortran}
if command -v "$fc" >/dev/null 2>&1; then
    "$fc" -O2 -J "$here" -o "$tmp" "$here/model.f90"
else
    "${CC:-cc}" -O2 -o "$tmp" "$here/model.c"
fi
mv -f "$tmp" "$here/model"
echo "build.sh: built $here/model"
