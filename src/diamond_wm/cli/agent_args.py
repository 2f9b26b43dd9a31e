"""The options of `diamond play` and `diamond eval` that give a checkpoint's networks (`--agent-config`, `-o`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from diamond_wm.loading.agent_config import AGENT_PRESETS, CSGO_AGENT_PRESET, AgentRequest

AGENT_HELP = f"""Networks of a checkpoint file (bare state_dicts hold weights only). By default: the file's run folder
config, else the packaged agent preset ({", ".join(AGENT_PRESETS)}) the weights load into; a CS:GO world model
(--spawn, --pretrained csgo) gets the `{CSGO_AGENT_PRESET}` preset. Otherwise:
  --agent-config FILE     a run's config/trainer.yaml (ours or the published code's), a published
                          config/agent/*.yaml, an agent preset YAML, or a run folder
  -o agent=NAME           a packaged agent preset (as `diamond train agent=NAME`)
  -o agent.KEY=VALUE      any agent key of `diamond train`, repeated, e.g.
                          -o agent=tiny -o agent.actor_critic.channels=[8,8,8,8]
The frame size follows the checkpoint unless an agent.*.img_size is given."""


def add_agent_arguments(parser: argparse.ArgumentParser) -> None:
    """`--agent-config FILE` and repeatable `-o/--override agent...=VALUE` (see AGENT_HELP)."""
    group = parser.add_argument_group("agent networks", AGENT_HELP)
    group.add_argument(
        "--agent-config", type=Path, default=None, metavar="FILE", help="the checkpoint's agent config"
    )
    group.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="agent.KEY=VALUE",
        help="agent=NAME or agent.KEY=VALUE (repeat for several)",
    )


def agent_request(args: argparse.Namespace) -> AgentRequest:
    return AgentRequest(args.agent_config, tuple(args.override))
