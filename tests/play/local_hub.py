"""A local stand-in for the Hugging Face Hub: files in the published layout of `eloialonso/diamond`, served over
HTTP on 127.0.0.1 the way the Hub serves `/{repo}/resolve/{revision}/{path}` (HEAD with X-Repo-Commit, ETag and
Content-Length, then GET), so that the real `hf_hub_download` code path runs against it; and the two API routes
`snapshot_download` lists a repository with (`/api/models/{repo}/revision/{revision}`, with its `siblings`, and
`/api/models/{repo}/tree/{revision}`, recursive)."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import torch

from diamond_wm.config.agent import AgentConfig
from diamond_wm.hub import ATARI_AGENT_CONFIG_PATH, ATARI_ENV_CONFIG_PATH, ATARI_MODEL_PATH, HUB_REPO_ID
from diamond_wm.models.agent import Agent
from diamond_wm.models.agent import agent_config_from_dict as _from_dict
from tests.play.tiny_csgo import TinyCSGO, write_tiny_csgo

COMMIT = "0123456789abcdef0123456789abcdef01234567"

# The published agent config's format (`_target_` keys naming the reference's classes, interpolations),
# with much smaller networks than the paper's.
AGENT_YAML = """\
_target_: agent.AgentConfig

denoiser:
  _target_: models.diffusion.DenoiserConfig
  sigma_data: 0.5
  sigma_offset_noise: 0.3
  inner_model:
    _target_: models.diffusion.InnerModelConfig
    img_channels: 3
    num_steps_conditioning: 4
    cond_channels: 16
    depths: [1,1]
    channels: [8,8]
    attn_depths: [0,0]

rew_end_model:
  _target_: models.rew_end_model.RewEndModelConfig
  lstm_dim: 16
  img_channels: ${agent.denoiser.inner_model.img_channels}
  img_size: ${env.train.size}
  cond_channels: 8
  depths: [1,1]
  channels: [8,8]
  attn_depths: [0,0]

actor_critic:
  _target_: models.actor_critic.ActorCriticConfig
  lstm_dim: 16
  img_channels: ${agent.denoiser.inner_model.img_channels}
  img_size: ${env.train.size}
  channels: [8,8,8,8]
  down: [1,1,1,1]
"""

ENV_YAML = """\
train:
  id: BreakoutNoFrameskip-v4
  done_on_life_loss: True
  size: 64
  max_episode_steps: null

test:
  id: ${..train.id}
  done_on_life_loss: False
  size: ${..train.size}
  max_episode_steps: null

keymap: atari/${.train.id}
"""


def tiny_agent_config() -> AgentConfig:
    return _from_dict(
        {
            "denoiser": {"inner_model": {"cond_channels": 16, "depths": [1, 1], "channels": [8, 8], "attn_depths": [0, 0]}},
            "rew_end_model": {"lstm_dim": 16, "cond_channels": 8, "depths": [1, 1], "channels": [8, 8], "attn_depths": [0, 0]},
            "actor_critic": {"lstm_dim": 16, "channels": [8, 8, 8, 8]},
        }
    )  # fmt: skip


def write_published_layout(
    root: Path, game: str = "Breakout", num_actions: int = 4
) -> dict[str, torch.Tensor]:
    """The three published files under `root`; returns the model's state_dict (a bare one, as published)."""
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), num_actions)
    state_dict = {k: v.clone() for k, v in agent.state_dict().items()}
    model = root / ATARI_MODEL_PATH.format(game=game)
    model.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, model)
    for rel, text in ((ATARI_AGENT_CONFIG_PATH, AGENT_YAML), (ATARI_ENV_CONFIG_PATH, ENV_YAML)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return state_dict


class LocalHub:
    """`with LocalHub(root) as hub:` serves `root` as the Hub repository `eloialonso/diamond` at `hub.url`."""

    def __init__(self, root: Path, repo_id: str = HUB_REPO_ID) -> None:
        self.root, self.repo_id = root, repo_id
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _file(self) -> Path | None:
                prefix = f"/{hub.repo_id}/resolve/"
                if not self.path.startswith(prefix):
                    return None
                _, _, rel = self.path[len(prefix) :].partition("/")  # drop the revision
                path = hub.root / rel
                return path if path.is_file() else None

            def _headers(self, path: Path | None) -> bytes | None:
                hub.requests.append((self.command, self.path))
                if path is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                return data

            def do_HEAD(self) -> None:
                self._headers(self._file())

            def _api(self) -> bytes | None:
                """The JSON of an API route, None for other paths."""
                prefix = f"/api/models/{hub.repo_id}/"
                route = self.path.split("?", 1)[0]
                if not route.startswith(prefix):
                    return None
                files = sorted(p for p in hub.root.rglob("*") if p.is_file())
                rel = [p.relative_to(hub.root).as_posix() for p in files]
                if route[len(prefix) :].startswith("revision/"):
                    info = {"id": hub.repo_id, "sha": COMMIT, "siblings": [{"rfilename": r} for r in rel]}
                    return json.dumps(info).encode()
                _, _, under = route[len(prefix) :].removeprefix("tree/").partition("/")  # after the revision
                keep = [i for i, r in enumerate(rel) if not under or r.startswith(unquote(under) + "/")]
                rel, files = [rel[i] for i in keep], [files[i] for i in keep]
                entries = [
                    {
                        "type": "file",
                        "path": r,
                        "size": p.stat().st_size,
                        "oid": hashlib.sha1(p.read_bytes()).hexdigest(),
                    }
                    for r, p in zip(rel, files, strict=True)
                ]
                return json.dumps(entries).encode()

            def do_GET(self) -> None:
                api = self._api()
                if api is not None:
                    hub.requests.append((self.command, self.path))
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(api)))
                    self.end_headers()
                    self.wfile.write(api)
                    return
                data = self._headers(self._file())
                if data is not None:
                    self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (no network)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def write_csgo_layout(root: Path) -> TinyCSGO:
    """The published CS:GO files under `root` (`csgo/model/csgo.pt`, `csgo/config/agent/csgo.yaml`,
    `csgo/spawn/<n>/`), with a tiny world model; returns where its originals are (`root/../csgo_src`)."""
    from diamond_wm.hub import CSGO_AGENT_CONFIG_PATH, CSGO_MODEL_PATH, CSGO_SPAWN_DIR

    tiny = write_tiny_csgo(root.parent / "csgo_src")
    for src, rel in ((tiny.checkpoint, CSGO_MODEL_PATH), (tiny.agent_config, CSGO_AGENT_CONFIG_PATH)):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / rel)
    shutil.copytree(tiny.spawn, root / CSGO_SPAWN_DIR)
    return tiny
