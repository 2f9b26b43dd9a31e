"""The figures of `scripts/gpu_check.sh`: a training run's projection to the paper's schedule, and the summary.

    python scripts/gpu_check_report.py projection RUN_DIR [--json FILE]   # per-phase times, projected full run
    python scripts/gpu_check_report.py summary OUT                        # OUT/summary.md from OUT's files

The projection reads a short `diamond train` run (its `metrics.jsonl` and `config/trainer.yaml`): the seconds per
update of each component and the seconds per collected environment step (the rest of a collecting epoch:
collection, the checkpoint) in its last epoch, then applies them to the paper's schedule (the default training
config): the initial collection, epoch 1's longer training, the other collecting epochs and the final ones. Test
episodes (every `evaluation.every` epochs, and the final ones) are not counted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

COMPONENTS = ("denoiser", "rew_end_model", "actor_critic")
BENCH_MODES = (
    ("bench_fp32", "fp32"),
    ("bench_bf16", "bf16"),
    ("bench_compiled", "bf16 + torch.compile"),
    ("bench_graphs", "bf16 + torch.compile + CUDA graphs"),
)


def schedule_of(cfg: Any) -> dict[str, Any]:
    """The numbers of a `TrainerConfig` that the projection needs, as plain values."""
    col = cfg.collection.train
    return {
        "num_steps_total": col.num_steps_total,
        "first_epoch_min": col.first_epoch.min,
        "steps_per_epoch": col.steps_per_epoch,
        "num_final_epochs": cfg.training.num_final_epochs,
        "updates_first_epoch": {c: getattr(cfg, c).training.steps_first_epoch for c in COMPONENTS},
        "updates_per_epoch": {c: getattr(cfg, c).training.steps_per_epoch for c in COMPONENTS},
    }


def project(metrics: list[dict[str, Any]], run: dict[str, Any], paper: dict[str, Any]) -> dict[str, Any]:
    """Per-phase times of the run's last epoch (`run`: its schedule) and the projected wall time of `paper`'s."""
    epochs = [m for m in metrics if "time/epoch_s" in m and m.get("epoch", 0) >= 1]
    if not epochs:
        raise ValueError("no finished epoch in the metrics")
    m = epochs[-1]
    key = "updates_first_epoch" if m["epoch"] == 1 else "updates_per_epoch"
    phase_s = {c: m[f"{c}/time_s"] for c in COMPONENTS if f"{c}/time_s" in m}
    per_update = {c: s / run[key][c] for c, s in phase_s.items() if run[key][c] > 0}
    collected = m.get("collect/num_steps", 0)
    other_s = m["time/epoch_s"] - sum(phase_s.values())
    per_env_step = other_s / collected if collected else float("nan")

    def training_s(updates: dict[str, int]) -> float:
        return sum(per_update.get(c, 0.0) * n for c, n in updates.items())

    spe = paper["steps_per_epoch"]
    num_collect = math.ceil(max(0, paper["num_steps_total"] - paper["first_epoch_min"]) / spe)
    first_collection = paper["first_epoch_min"] * per_env_step
    epoch_1 = training_s(paper["updates_first_epoch"]) + spe * per_env_step
    collecting = training_s(paper["updates_per_epoch"]) + spe * per_env_step
    final = training_s(paper["updates_per_epoch"])
    total = first_collection + epoch_1 + (num_collect - 1) * collecting + paper["num_final_epochs"] * final
    return {
        "measured_epoch": m["epoch"],
        "measured_epoch_s": m["time/epoch_s"],
        "measured_phase_s": phase_s | {"collection_and_checkpoint": other_s},
        "measured_env_steps": collected,
        "per_update_s": per_update,
        "per_env_step_s": per_env_step,
        "paper_epochs": num_collect + paper["num_final_epochs"],
        "paper_initial_collection_s": first_collection,
        "paper_epoch_1_s": epoch_1,
        "paper_collecting_epoch_s": collecting,
        "paper_final_epoch_s": final,
        "projected_total_s": total,
        "projected_total_h": total / 3600,
        "not_counted": "test episodes (every evaluation.every epochs, and the final ones)",
    }


def projection_of_run(run_dir: Path) -> dict[str, Any]:
    from diamond_wm.config.compose import compose_trainer_config, load_run_config, to_trainer_config
    from diamond_wm.training.metrics import read_metrics

    run = load_run_config(run_dir / "config" / "trainer.yaml")
    paper = to_trainer_config(compose_trainer_config([f"env.train.id={run.env.train.id}"]))
    out = project(read_metrics(run_dir / "metrics.jsonl"), schedule_of(run), schedule_of(paper))
    out["device"], out["precision"], out["env"] = (
        str(run.common.devices),
        run.training.precision,
        run.env.train.id,
    )
    return out


# ---------------------------------------------------------------------------------------------------- summary


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _f(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(_f(v) for v in row) + " |" for row in rows] + [""]


def _steps(out: Path) -> list[list[str]]:
    path = out / "steps.tsv"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [line.split("\t") for line in lines if line.strip()]


def _bench_section(out: Path) -> list[str]:
    lines: list[str] = []
    found = [(mode, _load(out / f"{name}.json")) for name, mode in BENCH_MODES]
    found = [(mode, r) for mode, r in found if r]
    if found:
        names = [k[:-2] for k in found[0][1] if k.endswith("_s") and f"{k[:-2]}_min_s" in found[0][1]]
        rows = [[n, *(r.get(f"{n}_s", "-") for _, r in found)] for n in names]
        lines += ["## Atari workloads (median seconds per call)", ""]
        lines += _table(["workload", *(mode for mode, _ in found)], rows)
        peak = [[mode, r.get("matmul_peak_fp32_flops_per_s", "-"), r.get("matmul_peak_bf16_flops_per_s", "-")]
                for mode, r in found]  # fmt: skip
        lines += _table(["run", "matmul peak fp32 (FLOP/s)", "matmul peak bf16 (FLOP/s)"], peak)
    for name in ("bench_csgo_bf16", "bench_csgo_fp32"):
        r = _load(out / f"{name}.json")
        if r:
            rows = [[n, r[f"{n}_s"], r.get(f"{n}_fps", "-")] for n in ("csgo_play_step", "csgo_play_step_hq")
                    if f"{n}_s" in r]  # fmt: skip
            lines += [f"## CS:GO play ({name.rsplit('_', 1)[1]})", ""]
            lines += _table(["workload", "s per frame", "frames/s"], rows)
    return lines


def _serve_section(out: Path) -> list[str]:
    r = _load(out / "serve_atari.json")
    if not r:
        return []
    keys = ["players", "fps_per_player_mean", "fps_aggregate", "latency_p50_ms", "latency_p95_ms"]
    keys += ["mean_batch", "batching_gain", "rss_mb"]
    lines = [f"## diamond serve, paper-size Atari ({r.get('device', '?')}, {r.get('precision', '?')}, "
             f"fast={r.get('fast')})", ""]  # fmt: skip
    lines += _table(keys, [[row.get(k, "-") for k in keys] for row in r.get("rows", [])])
    if "play_step_fast_fps" in r:
        lines += [f"play_step alone (bench, same mode): {_f(r['play_step_fast_fps'])} frames/s", ""]
    return lines


def _train_section(out: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(out.glob("train_*.projection.json")):
        p = _load(path)
        if not p:
            continue
        lines += [f"## One short training run ({p['env']}, {p['precision']}, {p['device']})", ""]
        phases = [[k, v, p["per_update_s"].get(k, "-")] for k, v in p["measured_phase_s"].items()]
        lines += _table([f"phase (epoch {p['measured_epoch']})", "seconds", "seconds per update"], phases)
        lines += [
            f"collection + checkpoint: {_f(p['per_env_step_s'])} s per environment step",
            f"projected paper run: {p['paper_epochs']} epochs, {_f(p['projected_total_h'])} h "
            f"(a collecting epoch {_f(p['paper_collecting_epoch_s'])} s, epoch 1 {_f(p['paper_epoch_1_s'])} s; "
            f"not counted: {p['not_counted']})",
            "",
        ]
    return lines


def _distributed_section(out: Path) -> list[str]:
    r = _load(out / "nccl.json")
    if not r:
        return []
    key = "ddp_denoiser_train_step"
    n = r[f"{key}_nproc"]
    return [
        f"## Distributed denoiser step ({r[f'{key}_backend']}, {n} processes)",
        "",
        f"1 process {_f(r[f'{key}_1proc_s'])} s, {n} processes {_f(r[f'{key}_{n}proc_s'])} s, "
        f"scaling efficiency {_f(r[f'{key}_scaling_efficiency'])}",
        "",
    ]


def _tests_section(out: Path) -> list[str]:
    lines = []
    for name in ("tests_cuda", "tests_devices"):
        path = out / f"{name}.log"
        if path.is_file():
            words = ("passed", "failed", "skipped", "error")
            ends = [x for x in path.read_text().splitlines() if " in " in x and any(w in x for w in words)]
            lines.append(f"- {name}: {ends[-1].strip('= ') if ends else '(no pytest result line)'}")
    return ["## Tests", "", *lines, ""] if lines else []


def summary(out: Path) -> str:
    env = _load(out / "env.json") or {}
    lines = ["# GPU check", ""]
    if env:
        lines += [", ".join(f"{k}: {v}" for k, v in env.items()), ""]
    lines += ["## Steps", ""]
    lines += _table(["step", "status", "seconds", "time limit (s)"], [s[:4] for s in _steps(out)])
    for section in (_tests_section, _bench_section, _serve_section, _train_section, _distributed_section):
        try:
            lines += section(out)
        except (KeyError, TypeError, ValueError) as err:  # one odd file does not lose the rest
            lines += [f"({section.__name__[1:]}: could not read: {err!r})", ""]
    lines += ["Logs and JSON of each step: <step>.log, <step>.json beside this file.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("projection")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--json", type=Path)
    s = sub.add_parser("summary")
    s.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "projection":
        result = projection_of_run(args.run_dir)
        print(json.dumps(result, indent=1))
        if args.json is not None:
            args.json.write_text(json.dumps(result, indent=1))
        return 0
    text = summary(args.out)
    (args.out / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
