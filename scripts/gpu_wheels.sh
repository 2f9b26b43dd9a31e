#!/usr/bin/env bash
# Wheels for a GPU machine without network: what scripts/gpu_check.sh needs beyond the machine's own torch, numpy,
# h5py, opencv, imageio and tqdm, for CPython 3.12 on Linux x86_64.
#
#   scripts/gpu_wheels.sh [DEST]        # default DEST: .gpu_wheels/ in the repository root
#
# Run it where PyPI is reachable, with a Python environment that has the project installed (PYTHON=..., default
# .venv/bin/python, else python3): the versions are the ones installed there (scripts/gpu_wheel_list.py). Writes
# DEST/*.whl and DEST/requirements.txt, prints the folder's size, and checks that ale-py's wheel has its ROMs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.gpu_wheels}"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
MAX_MIB="${GPU_WHEELS_MAX_MIB:-55}"

mkdir -p "$DEST"
rm -f "$DEST"/*.whl "$DEST/requirements.txt"
"$PYTHON" "$ROOT/scripts/gpu_wheel_list.py" >"$DEST/requirements.txt"
echo "packages for the GPU machine ($(wc -l <"$DEST/requirements.txt")): $(tr '\n' ' ' <"$DEST/requirements.txt")"

PLATFORM=(--python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64
    --platform linux_x86_64 --platform any)
while read -r req; do
    [[ -z "$req" ]] && continue
    if ! "$PYTHON" -m pip download -q --no-deps --only-binary=:all: "${PLATFORM[@]}" -d "$DEST" "$req" 2>/dev/null; then
        # No wheel on PyPI (antlr4-python3-runtime 4.9.3 is a source archive): build it here, where it must be
        # pure Python to install on the GPU machine.
        echo "no wheel of $req on PyPI for CPython 3.12: building it"
        "$PYTHON" -m pip wheel -q --no-deps -w "$DEST" "$req"
    fi
done <"$DEST/requirements.txt"

status=0
for whl in "$DEST"/*.whl; do
    name="$(basename "$whl")"
    case "$name" in
        *-py3-none-any.whl | *-py2.py3-none-any.whl | *cp312*manylinux*x86_64*.whl | *abi3*manylinux*x86_64*.whl) ;;
        *) echo "error: $name will not install on CPython 3.12 Linux x86_64" >&2; status=1 ;;
    esac
done

roms="$("$PYTHON" -m zipfile -l "$DEST"/ale_py-*.whl | grep -c 'roms/.*\.bin' || true)"
if [[ "$roms" -lt 57 ]]; then
    echo "error: ale-py's wheel has $roms ROMs (expected the Atari 100k games and more)" >&2
    status=1
else
    echo "ale-py's wheel has $roms ROMs"
fi

kib="$(du -sk "$DEST" | cut -f1)"
echo "$(ls "$DEST"/*.whl | wc -l) wheels in $DEST: $((kib / 1024)) MiB ($kib KiB)"
if [[ "$kib" -gt $((MAX_MIB * 1024)) ]]; then
    echo "error: more than $MAX_MIB MiB (GPU_WHEELS_MAX_MIB)" >&2
    status=1
fi
exit "$status"
