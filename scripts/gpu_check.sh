#!/usr/bin/env bash
# GPU acceptance check: the device's tests, `diamond bench` (fp32, bf16, compiled; CS:GO play), the serve load test,
# a short paper-size training run with the projected wall time of a full run, and NCCL when there are 2+ GPUs.
#
#   OUT=/path/to/results bash scripts/gpu_check.sh
#
# Made for a GPU machine without network whose Python has torch (CUDA), numpy, h5py, opencv, imageio and tqdm:
# the other packages come from .gpu_wheels/ (made beforehand by scripts/gpu_wheels.sh, where PyPI is reachable)
# and the project runs from src/ (PYTHONPATH). Each step has its own time limit and the whole check ends within
# GPU_CHECK_BUDGET_S seconds; a step that fails or runs out of time is recorded and the next one
# runs. Writes OUT/<step>.log, OUT/<step>.json where the tool writes JSON, OUT/steps.tsv and OUT/summary.md.
#
# Settings (environment):
#   GPU_CHECK_DEVICE       cuda (default), cuda:N or cpu
#   GPU_CHECK_SMOKE=1      tiny sizes and counts: a check of this script in minutes on a CPU, e.g.
#                          GPU_CHECK_DEVICE=cpu GPU_CHECK_SMOKE=1 OUT=/tmp/check bash scripts/gpu_check.sh
#   GPU_CHECK_STEPS        the steps to run, in order (default: all, most important first)
#   GPU_CHECK_BUDGET_S     seconds for the whole check (default 450 x GPU_CHECK_LIMIT_SCALE)
#   GPU_CHECK_LIMIT_SCALE  multiplies every step's time limit (default 1; 3 in smoke mode)
#   GPU_CHECK_WHEELS       the wheel folder (default .gpu_wheels)
#   PYTHON                 the interpreter (default: the first of python3 and python that imports torch)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
DEVICE="${GPU_CHECK_DEVICE:-cuda}"
SMOKE="${GPU_CHECK_SMOKE:-0}"
WHEELS="${GPU_CHECK_WHEELS:-$ROOT/.gpu_wheels}"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then # the first Python that has torch
    for candidate in python3 python; do
        if "$candidate" -c "import torch" 2>/dev/null; then PY="$candidate" && break; fi
    done
fi
PY="${PY:-python3}"
RESERVE=15 # seconds kept for the summary
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
DIAMOND=("$PY" -m diamond_wm.cli.main)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")" # training runs (their logs and metrics are copied to OUT)
export PY WHEELS OUT DEVICE WORK
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
: >"$OUT/steps.tsv"

ATARI="denoiser_train_step,rew_end_train_step,actor_critic_train_step,wm_step,play_step"
DEVICE_TESTS=(tests/runtime/test_devices.py tests/runtime/test_precision.py tests/runtime/test_distributed.py
    tests/runtime/test_compile.py tests/runtime/test_cuda_graphs.py tests/training/test_precision.py tests/training/test_schedule.py
    tests/cli/test_distributed_launch.py tests/config/test_published_config.py tests/cli/test_csgo_play_cli.py
    tests/bench/test_bench_cli.py)
SCALE="${GPU_CHECK_LIMIT_SCALE:-$([[ "$SMOKE" == 1 ]] && echo 3 || echo 1)}" # x each step's time limit
BUDGET="${GPU_CHECK_BUDGET_S:-$((450 * SCALE))}" # with the kill grace and the summary: under 8 minutes
if [[ "$SMOKE" == 1 ]]; then
    BENCH=(--tiny --warmup 2 --repeats 1) # 2: a compiled play_step compiles again on its second call
    COMPILED_ONLY=play_step # compiling every workload takes minutes on a small CPU
    GRAPHS_ONLY=play_step
    SERVE=(--players 1 --seconds 1 --warmup 0.5) # no --fast: compiling the paper-size play step on a CPU is slow
    TRAIN=(agent=tiny collection.train.first_epoch.min=100 collection.train.first_epoch.max=100
        collection.train.num_steps_total=300)
    UPDATES=2
    TRAIN+=(denoiser.training.batch_size=4 rew_end_model.training.batch_size=4 actor_critic.training.batch_size=4)
    DIST=(--tiny --warmup 1 --repeats 1 --threads 1)
else
    BENCH=(--warmup 2 --repeats 5)
    COMPILED_ONLY="$ATARI"
    GRAPHS_ONLY=wm_step,play_step
    SERVE=(--fast --players 1,4,16 --seconds 5)
    TRAIN=(collection.train.first_epoch.min=1000 collection.train.first_epoch.max=1000
        collection.train.num_steps_total=1200)
    UPDATES=100 # per component and epoch: the projection scales them to the paper's 400 (epoch 1: 10000, 5000)
    DIST=(--warmup 2 --repeats 5)
fi

record() { # NAME STATUS SECONDS LIMIT
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$OUT/steps.tsv"
}

step() { # NAME LIMIT_S COMMAND...: COMMAND's output in OUT/NAME.log, at most LIMIT_S seconds (less if the budget ends)
    local name="$1" limit=$(($2 * SCALE))
    shift 2
    local left=$((BUDGET - RESERVE - (SECONDS - START)))
    if ((left < 10)); then
        echo "== $name: skipped (the time budget is spent)"
        record "$name" "skipped: time budget spent" 0 "$limit"
        return 0
    fi
    ((limit > left)) && limit=$left
    echo "== $name (at most ${limit}s)"
    local t0=$SECONDS
    timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$? status=ok
    if ((rc == 124 || rc == 137)); then
        status="timed out"
    elif ((rc != 0)); then
        status="failed (exit $rc)"
    fi
    record "$name" "$status" $((SECONDS - t0)) "$limit"
    echo "   $status in $((SECONDS - t0))s"
    [[ "$status" == ok ]] || tail -n 5 "$OUT/$name.log" | cut -c1-300 | sed "s/^/   | /"
    return 0
}

pip_install() { # ARGS...: pip install offline; where pip refuses the system's Python, with the flag it names
    local flags=(--no-index --disable-pip-version-check)
    "$PY" -m pip install "${flags[@]}" "$@" || "$PY" -m pip install --break-system-packages "${flags[@]}" "$@"
}

install_wheels() {
    set -x
    # By name, unpinned: packages the machine has in a fitting version stay; if that fails, every wheel as it is.
    pip_install --find-links "$WHEELS" $(sed 's/==.*//' "$WHEELS/requirements.txt") ||
        pip_install --no-deps "$WHEELS"/*.whl || return 1
    "$PY" -m pip check || true # informative: the machine's own packages may pin others
    deps_import
}

unpack_wheels() { # without a pip that can install: the wheels unpacked into a folder on PYTHONPATH
    set -x
    mkdir -p "$WORK/site"
    for whl in "$WHEELS"/*.whl; do "$PY" -m zipfile -e "$whl" "$WORK/site" || return 1; done
    deps_import
}

deps_import() {
    "$PY" -c "import gymnasium, ale_py, hydra, omegaconf, pygame, starlette, uvicorn, websockets, pytest, huggingface_hub"
}

environment() {
    command -v nvidia-smi >/dev/null && nvidia-smi
    "$PY" - <<'EOF'
import json, os, platform, sys

import torch

from diamond_wm.runtime.precision import bf16_is_native

device = torch.device(os.environ["DEVICE"])
info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "gpus": torch.cuda.device_count(), "cpus": os.cpu_count(), "device": str(device)}
if device.type == "cuda":
    props = torch.cuda.get_device_properties(device)
    info |= {"device_name": props.name, "capability": f"{props.major}.{props.minor}",
             "memory_gib": round(props.total_memory / 2**30, 1)}
info["bf16_native"] = bf16_is_native(device)
print(json.dumps(info, indent=1))
with open(os.path.join(os.environ["OUT"], "env.json"), "w") as f:
    json.dump(info, f, indent=1)
EOF
}

bench() { # NAME LIMIT ARGS...
    local name="$1" limit="$2"
    shift 2
    step "$name" "$limit" "${DIAMOND[@]}" bench --device "$DEVICE" "${BENCH[@]}" --json "$OUT/$name.json" "$@"
}

train() { # PRECISION LIMIT: two epochs of the paper's Breakout run (shortened), then its projection
    local precision="$1" limit="$2" run="$WORK/train_$1" c
    local overrides=(env.train.id=BreakoutNoFrameskip-v4 "common.devices=$DEVICE" common.seed=0
        "training.precision=$precision" training.num_final_epochs=0 evaluation.should=false
        collection.test.num_final_episodes=0 checkpointing.save_agent_every=1000 "${TRAIN[@]}")
    for c in denoiser rew_end_model actor_critic; do
        overrides+=("$c.training.steps_first_epoch=$UPDATES" "$c.training.steps_per_epoch=$UPDATES")
    done
    step "train_$precision" "$limit" "${DIAMOND[@]}" train "${overrides[@]}" "hydra.run.dir=$run" --no-progress
    if [[ -f "$run/metrics.jsonl" ]]; then
        mkdir -p "$OUT/train_$precision"
        cp "$run/metrics.jsonl" "$run/config/trainer.yaml" "$OUT/train_$precision/" 2>/dev/null
        step "train_${precision}_projection" 60 "$PY" scripts/gpu_check_report.py projection "$run" \
            --json "$OUT/train_$precision.projection.json"
    fi
}

nccl() {
    local gpus
    gpus="$("$PY" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)"
    if [[ "$DEVICE" == cuda* && "$gpus" -lt 2 ]]; then
        echo "== nccl: skipped ($gpus GPU)"
        record nccl "skipped: $gpus GPU (needs 2+)" 0 0
        return 0
    fi
    step nccl 120 "${DIAMOND[@]}" bench --device "$DEVICE" --distributed 2 "${DIST[@]}" --json "$OUT/nccl.json"
}

run_step() {
    case "$1" in
        install)
            if deps_import 2>/dev/null; then
                echo "== install: skipped (the dependencies import already)"
                record install "skipped: dependencies present" 0 0
            else
                export -f install_wheels pip_install unpack_wheels deps_import
                step install 120 bash -c install_wheels
                if ! deps_import 2>/dev/null; then
                    export PYTHONPATH="$PYTHONPATH:$WORK/site"
                    step install_unpacked 60 bash -c unpack_wheels
                fi
            fi
            ;;
        environment) export -f environment && step environment 60 bash -c environment ;;
        tests_cuda) step tests_cuda 90 "$PY" -m pytest -q -p no:cacheprovider -m 'not slow or slow' \
            --junitxml="$OUT/tests_cuda.xml" tests/runtime/test_cuda.py ;;
        bench_fp32) bench bench_fp32 60 --only "$ATARI" ;;
        bench_bf16) bench bench_bf16 60 --only "$ATARI" --precision bf16 ;;
        bench_compiled) bench bench_compiled 150 --only "$COMPILED_ONLY" --precision bf16 --compile --freeze ;;
        bench_graphs) # the compiled play and imagination steps again, with the U-Nets captured as CUDA graphs
            if [[ "$DEVICE" == cuda* ]]; then
                bench bench_graphs 120 --only "$GRAPHS_ONLY" --precision bf16 --compile \
                    --freeze --cuda-graphs
            else
                echo "== bench_graphs: skipped (CUDA graphs are CUDA's)" && record bench_graphs "skipped: not cuda" 0 0
            fi
            ;;
        bench_csgo_bf16) bench bench_csgo_bf16 90 --only csgo_play_step,csgo_play_step_hq --precision bf16 ;;
        serve_atari) step serve_atari 150 "$PY" scripts/serve_load.py --paper-atari --device "$DEVICE" \
            "${SERVE[@]}" --json "$OUT/serve_atari.json" ;;
        train_bf16) train bf16 150 ;;
        nccl) nccl ;;
        train_fp32) train fp32 150 ;;
        bench_csgo_fp32) bench bench_csgo_fp32 90 --only csgo_play_step,csgo_play_step_hq ;;
        tests_devices) step tests_devices 90 "$PY" -m pytest -q -p no:cacheprovider \
            --junitxml="$OUT/tests_devices.xml" "${DEVICE_TESTS[@]}" ;;
        *) echo "unknown step $1" >&2 && record "$1" "unknown step" 0 0 ;;
    esac
}

# The training run before the compiling steps (bench_compiled, serve_atari --fast): their time is the least
# predictable, and the projection of a full run needs its whole time limit.
STEPS="${GPU_CHECK_STEPS:-install environment tests_cuda bench_fp32 bench_bf16 train_bf16 bench_csgo_bf16
    bench_compiled bench_graphs serve_atari nccl train_fp32 bench_csgo_fp32 tests_devices}"
echo "GPU check on $DEVICE$([[ "$SMOKE" == 1 ]] && echo ' (smoke: tiny sizes)'), at most ${BUDGET}s, results in $OUT"
for s in $STEPS; do
    run_step "$s"
done
"$PY" scripts/gpu_check_report.py summary "$OUT" >/dev/null 2>"$OUT/summary.log" ||
    echo "the summary failed: see $OUT/summary.log"
echo "done in $((SECONDS - START))s: $OUT/summary.md"
cat "$OUT/steps.tsv"
