"""`training.compile=true`: every network compiled, its graphs compiled in the first epoch and none after (through
imagination with restarting environments, test losses over growing test sets and the final evaluation); compiled
networks train, save and resume as eager ones."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import diamond_wm.runtime.compile as compile_module
from diamond_wm.cli.main import main
from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.agent import SigmaDistributionConfig
from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.models.agent import Agent
from diamond_wm.runtime.compile import compiled_graphs, graph_breaks, is_compiled
from diamond_wm.runtime.threads import cpu_threads
from diamond_wm.training import trainer as trainer_module
from diamond_wm.training.trainer import Trainer
from tests.models.conftest import tiny_agent_config
from tests.models.test_world_model import draws_for, make_batch
from tests.training.test_train_cli import CATCH

# A compiled run in which every shape a network can see appears: imagination of 8 environments with a horizon of 3
# (restarts of 1 to 8 of them), test losses on a test set that grows by an episode at each evaluation (its last,
# partial batches of the denoiser's 3 segments change size), 2 collecting epochs, 1 final one, then the final
# evaluation (2 more test episodes).
COUNTED = [
    *CATCH,
    "training.compile=true",
    "world_model_env.horizon=3",
    "denoiser.training.batch_size=3",
    "actor_critic.training.batch_size=8",
]


@pytest.fixture(autouse=True)
def dynamo_settings():
    """Dynamo's settings that `compile_for_training` changes for the whole process, restored after each test."""
    config = torch._dynamo.config
    saved = {key: getattr(config, key) for key in ("allow_rnn", "cache_size_limit")}
    yield
    for key, value in saved.items():
        setattr(config, key, value)


def _frames() -> tuple[int, int]:
    """(graphs compiled, graph breaks) so far."""
    return compiled_graphs(), graph_breaks()


def counted_run(tmp_path: Path, monkeypatch, backend: str, *overrides: str) -> dict:
    """A compiled `diamond train` of COUNTED in this process with torch.compile's `backend`; what it compiled before
    and after each epoch and at the end, and the numbers of environments that restarted together."""
    monkeypatch.setattr(compile_module, "BACKEND", backend)
    torch._dynamo.reset()  # nothing compiled by an earlier test is reused
    seen: dict = {"start": _frames(), "epochs": {}, "restarts": set()}
    run_epoch, finish_step = Trainer._run_epoch, WorldModelEnv.finish_step

    def counting_epoch(self):
        run_epoch(self)
        seen["epochs"][self.epoch] = _frames()

    def counting_restarts(self, out):
        result = finish_step(self, out)
        seen["restarts"].add(int(result[4]["reset_mask"].sum()))
        return result

    monkeypatch.setattr(Trainer, "_run_epoch", counting_epoch)
    monkeypatch.setattr(WorldModelEnv, "finish_step", counting_restarts)
    seen["run"] = tmp_path / "run"
    assert main(["train", *COUNTED, *overrides, f"hydra.run.dir={seen['run']}", "--no-progress"]) == 0
    seen["end"] = _frames()
    return seen


def check_nothing_compiled_after_epoch_1(seen: dict, log: str) -> None:
    """`seen`: `counted_run`'s; `log`: what the run printed on stderr."""
    start, epochs, end = seen["start"], seen["epochs"], seen["end"]
    assert sorted(epochs) == [1, 2, 3]
    assert epochs[1][0] > start[0]  # epoch 1 compiled graphs: the counter counts this run's compilations
    assert epochs[2] == epochs[3] == end == epochs[1], (start, epochs, end)  # neither graphs nor graph breaks
    assert end[1] == start[1] == 0  # each network compiles whole (its LSTM too)
    assert len(seen["restarts"] - {0}) >= 3  # restarts of several sizes did happen
    state = torch.load(seen["run"] / "checkpoints" / "state.pt", weights_only=True)
    assert state["epoch"] == 3 and state["numerics"]["compile"] is True
    assert all(torch.isfinite(v).all() for v in state["agent"].values() if v.is_floating_point())
    lines = [line for line in log.splitlines() if "graphs compiled in" in line or "more graphs" in line]
    assert len(lines) == 1 and f"{epochs[1][0] - start[0]} graphs compiled in " in lines[0], lines
    assert lines[0].endswith("up to the end of epoch 1")


# every=2: epoch 1 does not evaluate, its test losses' graphs are compiled all the same
@pytest.mark.parametrize("every", [1, 2])
def test_a_compiled_run_compiles_nothing_after_its_first_epoch(
    tmp_path, monkeypatch, restore_logging, capsys, every
):
    # Dynamo's eager backend: the same graphs and guards as Inductor's, without generating code (a few seconds).
    seen = counted_run(tmp_path, monkeypatch, "eager", f"evaluation.every={every}")
    check_nothing_compiled_after_epoch_1(seen, capsys.readouterr().err)


@pytest.mark.slow
def test_a_run_compiled_by_inductor_compiles_nothing_after_its_first_epoch(
    tmp_path, monkeypatch, restore_logging, capsys
):
    seen = counted_run(tmp_path, monkeypatch, "inductor", "evaluation.every=2")
    check_nothing_compiled_after_epoch_1(seen, capsys.readouterr().err)


def test_resuming_an_eager_run_compiled_says_so_and_keeps_the_checkpoint_keys(
    tmp_path, monkeypatch, restore_logging, capsys
):
    monkeypatch.setattr(compile_module, "BACKEND", "eager")
    run = tmp_path / "run"
    run_epoch = Trainer._run_epoch

    def stop_after_epoch_1(self):
        run_epoch(self)
        if self.epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_run_epoch", stop_after_epoch_1)
    eager = [a for a in COUNTED if a != "training.compile=true"]
    assert main(["train", *eager, f"hydra.run.dir={run}", "--no-progress"]) != 0  # interrupted after epoch 1
    monkeypatch.setattr(Trainer, "_run_epoch", run_epoch)
    saved = torch.load(run / "checkpoints" / "state.pt", weights_only=True)
    assert saved["epoch"] == 1 and saved["numerics"]["compile"] is False
    saved["numerics"] = {"precision": "fp32", "compile_wm": False}  # as older runs saved it
    torch.save(saved, run / "checkpoints" / "state.pt")
    config = run / "config" / "trainer.yaml"
    config.write_text(config.read_text().replace("  compile: false", "  compile: true"))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "resuming under other numerics" in line]
    assert len(lines) == 1 and lines[0].endswith("training.compile False -> True"), lines
    state = torch.load(run / "checkpoints" / "state.pt", weights_only=True)
    assert state["epoch"] == 3 and state["numerics"] == {"precision": "fp32", "compile": True, "tf32": False}
    assert list(state["agent"]) == list(saved["agent"])  # compiled modules save their eager keys
    assert all(torch.isfinite(v).all() for v in state["agent"].values() if v.is_floating_point())
    assert any(not torch.equal(state["agent"][k], v) for k, v in saved["agent"].items())  # it trained on


def test_compile_wm_is_read_as_compile(caplog):
    cfg = to_trainer_config(compose_trainer_config(["agent=tiny", "env=catch", "training.compile_wm=true"]))
    assert cfg.training.compile is False
    with caplog.at_level(logging.INFO, logger=trainer_module.__name__):
        agent = trainer_module._build_agent(cfg, ActionSpec.discrete(3), torch.device("cpu"), resuming=False)
    assert "training.compile_wm=true is read as training.compile=true" in caplog.text
    assert is_compiled(agent.denoiser.inner_model) and is_compiled(agent.rew_end_model)
    assert is_compiled(agent.actor_critic)
    eager_cfg = to_trainer_config(compose_trainer_config(["agent=tiny", "env=catch"]))
    eager = trainer_module._build_agent(
        eager_cfg, ActionSpec.discrete(3), torch.device("cpu"), resuming=False
    )
    assert not is_compiled(eager.actor_critic) and list(eager.state_dict()) == list(agent.state_dict())


def test_losses_of_a_padded_batch_are_the_losses_of_the_batch():
    # The test losses of a compiled run pad their last batch: the padding segments must not count.
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), 3)
    batch = make_batch(3, 4, seed=1)  # 2 conditioning frames + 2 predicted
    batch.mask_padding[2, 3] = False  # a padded step of a real segment stays padding
    padded = batch.padded(5)
    draws = draws_for(3, 2, seed=2)
    padded_draws = [{k: torch.cat([v, v[:2]]) for k, v in d.items()} for d in draws]  # any draws for padding
    sigma = SigmaDistributionConfig()
    loss, _ = agent.denoiser.compute_loss(batch, sigma, draws=draws)
    padded_loss, _ = agent.denoiser.compute_loss(padded, sigma, draws=padded_draws)
    torch.testing.assert_close(padded_loss, loss)
    batch.rew[0, 1], batch.end[1, 2] = 1.0, 1
    batch.info[1]["final_observation"] = torch.zeros(3, 16, 16)
    rew_end, metrics = agent.rew_end_model.compute_loss(batch)
    padded_rew_end, padded_metrics = agent.rew_end_model.compute_loss(batch.padded(5))
    torch.testing.assert_close(padded_rew_end, rew_end)
    assert padded_metrics == pytest.approx(metrics)


def test_a_compiled_run_keeps_torch_threads_still(monkeypatch, caplog):
    """The thread governor holds still in a compiled run (a change of torch's thread count would compile every
    graph again) and adapts in an eager one."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with caplog.at_level(logging.INFO, logger="diamond_wm.runtime.threads"):
        eager = cpu_threads(torch.device("cpu"), compiled=False)
        compiled = cpu_threads(torch.device("cpu"), compiled=True)
    assert eager is not None and compiled is not None
    assert eager.enabled, "the governor adapts on Linux (/proc/stat) when OMP_NUM_THREADS is unset"
    assert not compiled.enabled
    assert compiled.adapt() == torch.get_num_threads()
    lines = [r.getMessage() for r in caplog.records if "training.compile: torch keeps" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert cpu_threads(torch.device("meta"), compiled=True) is None
