"""RAM of a 100k-step 64x64 dataset held in memory (recorded in docs/memory.md).

Run `.venv/bin/python tests/data/test_memory.py` for the report, or `pytest -m slow tests/data/test_memory.py`.
Episodes are built the way training collection builds them: 100 steps at a time, each call extending the
episode in progress (so the RAM includes what reallocation leaves behind).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NUM_STEPS = 100_000
LIMIT_BYTES = 1.3e9


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def measure(num_steps: int = NUM_STEPS, size: int = 64, chunk: int = 100, seed: int = 0) -> dict[str, float]:
    """Fill a RAM dataset with `num_steps` random frames; return RSS growth and tensor bytes."""
    import torch

    from diamond_wm.data import Episode, EpisodeDataset

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    ds = EpisodeDataset()
    rss_before = _rss_bytes()
    while ds.num_steps < num_steps:
        length = min(int(torch.randint(200, 2000, (1,), generator=g)), num_steps - ds.num_steps)
        episode_id = None
        for start in range(0, length, chunk):
            n = min(chunk, length - start)
            last = start + n == length
            end = torch.zeros(n, dtype=torch.uint8)
            end[-1] = int(last)
            part = Episode(
                obs=torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
                act=torch.randint(0, 4, (n,), generator=g),
                rew=torch.zeros(n),
                end=end,
                trunc=torch.zeros(n, dtype=torch.uint8),
                info={"final_observation": torch.zeros(3, size, size, dtype=torch.uint8)} if last else {},
            )
            if episode_id is None:
                episode_id = ds.add_episode(part)
            else:
                ds.extend_episode(episode_id, part)
    rss_after = _rss_bytes()
    tensor_bytes = 0
    for i in range(ds.num_episodes):
        ep = ds.load_episode(i)
        tensor_bytes += sum(t.numel() * t.element_size() for t in (ep.obs, ep.act, ep.rew, ep.end, ep.trunc))
        tensor_bytes += sum(v.numel() * v.element_size() for v in ep.info.values())
    return {
        "num_steps": ds.num_steps,
        "num_episodes": ds.num_episodes,
        "tensor_bytes": tensor_bytes,
        "rss_growth_bytes": rss_after - rss_before,
        "rss_total_bytes": rss_after,
    }


@pytest.mark.slow
def test_100k_steps_fit_in_1_3_gb():
    out = subprocess.run([sys.executable, __file__, "--json"], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["num_steps"] == NUM_STEPS
    assert result["tensor_bytes"] <= LIMIT_BYTES
    assert result["rss_growth_bytes"] <= LIMIT_BYTES, result


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    r = measure()
    if "--json" in sys.argv:
        print(json.dumps(r))
    else:
        gb = 1e9
        print(f"{r['num_steps']} steps in {r['num_episodes']} episodes of 3x64x64 uint8 frames")
        print(f"tensor bytes:       {r['tensor_bytes'] / gb:.3f} GB")
        print(f"RSS growth:         {r['rss_growth_bytes'] / gb:.3f} GB")
        print(f"RSS of the process: {r['rss_total_bytes'] / gb:.3f} GB (Python + torch + dataset)")
