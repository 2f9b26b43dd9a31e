"""Arguments and entry point of `diamond bench` (imports torch only when the command runs)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

NAMES_HELP = (
    "denoiser_train_step, rew_end_train_step, wm_step, actor_critic_train_step, play_step, real_env_step, "
    "psnr_bf16_50_steps, csgo_play_step, csgo_play_step_hq, psnr_csgo_50_steps, psnr_csgo_hq_50_steps, dataset_convert, segment_load"
)

EPILOG = f"""\
workloads (the paper's Atari networks, random weights, 64x64 RGB frames, 4 actions, batch 32):
  denoiser_train_step      one denoiser update: 32 segments of 6 frames, forward, backward, AdamW step
  rew_end_train_step       one reward/termination update: 32 segments of 19 steps
  wm_step                  one imagination step of 32 environments: 3 Euler denoising steps + reward/termination
  actor_critic_train_step  15 imagined steps of 32 environments + actor-critic loss + backward + AdamW step
  play_step                one environment: policy + 3 denoising steps + reward/termination, no gradients
  real_env_step            one Breakout step (ALE, frame skip 4, 64x64) with the policy
  psnr_bf16_50_steps       PSNR of bf16-autocast imagined frames against float32 ones along 50 steps:
                           free-running (errors compound) and one step from float32's context (_one_step)

the CS:GO world model (agent=csgo: 30x56 denoiser, 330M parameters, + x5 upsampler to 150x280, 51M; random
weights, batch 1; --batch-size does not apply):
  csgo_play_step           one played frame, world_model_env=fast (1 denoiser step + 1 upsampler step)
  csgo_play_step_hq        one played frame, world_model_env=higher_quality (3 + 10 steps)
  psnr_csgo_50_steps       PSNR of this run's mode (--precision, --compile, --freeze) against float32 eager
                           frames (same weights, start, noise and actions) along 50 fast-preset steps:
                           free-running and one step from float32's state (_one_step)
  psnr_csgo_hq_50_steps    the same with the higher-quality preset (only when named in --only: ~25 min at
                           paper size on 2 CPU cores)

the data pipeline (files written in a temporary folder; --tiny: a few short episodes):
  dataset_convert          diamond dataset csgo on 4 synthetic CS:GO hdf5 episodes of 1000 frames (needs h5py),
                           1 and 2 workers, frames/s against h5py's plain read of the same frames (same run)
  segment_load             batches/s from a disk-backed dataset (6 episodes of 1000 steps): denoiser 16 x 9
                           frames at 30x56, upsampler 4 x 3 frames with their 150x280 ones, 0/1/2 DataLoader
                           workers; then RSS while streaming every episode file once

Times are medians of --repeats calls after --warmup calls and one more untimed call that counts the FLOPs (after
the warm-up: a first call under the FLOP counter would keep torch.compile from ever compiling).
Each workload's FLOPs (torch.utils.flop_counter) are divided by its median time and by the matmul peak
measured in the same run (2048x2048 products, float32 and bf16). JSON keys: <name>_s (seconds), <name>_min_s,
<name>_times_s, <name>_flops, <name>_flops_per_s, <name>_peak_fraction, matmul_peak_fp32_flops_per_s,
matmul_peak_bf16_flops_per_s, psnr_bf16_50_steps and psnr_bf16_50_steps_one_step (mean dB, with _min, _last,
_per_step), psnr_csgo_50_steps and psnr_csgo_hq_50_steps (the same keys), <name>_fps (CS:GO play steps),
dataset_convert_w<N>_fps, _read_fps and _ratio, segment_load_<denoiser|upsampler>_w<N>_batches_per_s (with
_startup_s and _workers_rss_bytes for N > 0), segment_load_stream_rss_growth (and _start_bytes, _max_bytes),
peak_rss_bytes, cpu_model, cpu_capability (torch's CPU kernels: AVX512, AVX2...), cpu_bf16_native,
device_bf16_native. bf16 on a device without native bf16 is emulated (30-80x slower on AVX2 CPUs): a warning says so.

names for --only: {NAMES_HELP}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results to FILE as JSON")
    parser.add_argument(
        "--device", default=None, help="cpu or cuda[:N] (default: cuda if available, else cpu)"
    )
    parser.add_argument(
        "--only",
        metavar="NAME,...",
        help="comma-separated workloads to run (default: all but psnr_csgo_hq_50_steps)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per workload (default 3)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed calls first (at least 1; default 1, or 2 with --compile: a compiled step's first two calls "
        "compile, the first step of a fresh state and the steady one)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="fp32 (default), or bf16 autocast of the networks (CPU and GPU)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile every network as training.compile=true does (with --freeze: the world model's, as "
        "diamond play --fast does; first calls compile)",
    )
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="with --compile: Inductor freezing (weights as constants) in the no-gradient workloads",
    )
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="with --compile on CUDA: the compiled graphs captured as CUDA graphs (as training.cuda_graphs=true)",
    )
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="the U-Nets' convolution weights in channels-last (NHWC) order (faster in eager bf16 on CPU; no "
        "gain once compiled with freezing: docs/benchmarks.md)",
    )
    parser.add_argument(
        "--tf32", action="store_true", help="allow TF32 matmuls and convolutions (CUDA only; fp32 precision)"
    )
    parser.add_argument(
        "--default-malloc",
        action="store_true",
        help="keep glibc's default mmap threshold (by default it is raised: see diamond_wm.runtime.memory)",
    )
    parser.add_argument("--batch-size", type=int, help="environments / segments per batch (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    parser.add_argument(
        "--distributed",
        type=int,
        metavar="N",
        help="only the denoiser training step, in N processes (DistributedDataParallel, one GPU each; gloo on "
        "CPU) against 1 process, batch per process unchanged: times and scaling efficiency",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="tiny networks on 16x16 frames, batch 2 (CS:GO: 8x14 frames, x5): a smoke test in seconds",
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from diamond_wm.bench.report import format_table, write_json
    from diamond_wm.bench.runner import parse_only, run_bench
    from diamond_wm.bench.workloads import BenchSettings
    from diamond_wm.runtime.memory import tune_malloc
    from diamond_wm.runtime.precision import set_tf32, warn_if_emulated

    try:
        names = parse_only(args.only)
    except ValueError as e:
        log.error("diamond bench: %s", e)
        return 2
    if args.warmup is None:
        args.warmup = 2 if args.compile else 1
    for flag, value, low in (("--repeats", args.repeats, 1), ("--warmup", args.warmup, 1)):
        if value < low:
            log.error("diamond bench: %s must be >= %d, got %d", flag, low, value)
            return 2
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        log.error("diamond bench: --device %s asked for, but CUDA is not available on this machine", device)
        return 2
    if device.type not in ("cpu", "cuda"):
        log.error("diamond bench: --device must be cpu or cuda[:N], got %s", args.device)
        return 2
    if args.freeze and not args.compile:
        log.error("diamond bench: --freeze needs --compile (it is an option of torch.compile)")
        return 2
    if args.cuda_graphs and (not args.compile or device.type != "cuda"):
        log.error("diamond bench: --cuda-graphs needs --compile and a cuda device, got --device %s", device)
        return 2
    if args.threads is not None:
        if args.threads < 1:
            log.error("diamond bench: --threads must be >= 1, got %d", args.threads)
            return 2
        torch.set_num_threads(args.threads)
    if args.tf32:
        set_tf32(True)
    if not args.default_malloc:
        tune_malloc()
    warn_if_emulated(args.precision, device)
    settings = BenchSettings(
        device=device,
        precision=args.precision,
        tiny=args.tiny,
        batch_size=args.batch_size,
        seed=args.seed,
        compile=args.compile,
        freeze=args.freeze,
        channels_last=args.channels_last,
        cuda_graphs=args.cuda_graphs,
    )
    if args.distributed is not None:
        return _run_distributed(args, settings)
    results = run_bench(settings, names, warmup=args.warmup, repeats=args.repeats)
    print(format_table(results))
    if args.json is not None:
        write_json(results, args.json)
        log.info("results written to %s", args.json)
    return 0


def _run_distributed(args: argparse.Namespace, settings) -> int:
    from diamond_wm.bench.distributed import format_distributed, run_distributed_bench
    from diamond_wm.bench.report import write_json

    if args.only is not None or args.compile:
        log.error(
            "diamond bench: --distributed times the denoiser training step only (no --only, no --compile)"
        )
        return 2
    try:
        results = run_distributed_bench(
            settings, args.distributed, warmup=args.warmup, repeats=args.repeats, threads=args.threads
        )
    except ValueError as e:
        log.error("diamond bench: %s", e)
        return 2
    print(format_distributed(results))
    if args.json is not None:
        write_json(results, args.json)
        log.info("results written to %s", args.json)
    return 0
