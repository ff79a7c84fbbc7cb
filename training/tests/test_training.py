import numpy as np
import pytest
import torch

from ogclip_factory import pool, train_segmenter, trainer
from ogclip_factory.segmenter import Segmenter


def test_a_few_steps_lower_the_segmenter_loss(tmp_path):
    torch.manual_seed(0)
    p = pool.build(0, 6)
    model = Segmenter()
    step = train_segmenter.make_step(model, p, batch=2)
    fixed = np.random.default_rng(5)
    before = float(step(np.random.default_rng(5)).detach())
    history = trainer.train("seg", model, step, trainer.LoopConfig(steps=12, lr=3e-3, warmup=2, checkpoint_every=6, log_every=100), tmp_path, log=lambda _: None)
    after = float(step(fixed).detach())
    assert len(history) == 12
    assert after < before


def _regression(model: torch.nn.Module):
    """A step function that trains `model` itself on rng-drawn data."""
    def step(rng: np.random.Generator) -> torch.Tensor:
        x = torch.from_numpy(rng.normal(size=(8, 4)).astype(np.float32))
        noise = 0.1 * torch.randn(8, 1)  # torch's generator too: resume must restore its state
        return ((model(x) - x.sum(1, keepdim=True) - noise) ** 2).mean()
    return step


def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    cfg = trainer.LoopConfig(steps=6, lr=1e-2, warmup=1, checkpoint_every=2, log_every=100)
    torch.manual_seed(3)
    straight = torch.nn.Linear(4, 1)
    trainer.train("straight", straight, _regression(straight), cfg, tmp_path, log=lambda _: None)

    torch.manual_seed(3)
    first = torch.nn.Linear(4, 1)
    inner, calls = _regression(first), []

    def killed_after_4(rng):  # the process dies during step 5, after the step-4 checkpoint
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return inner(rng)

    with pytest.raises(KeyboardInterrupt):
        trainer.train("resumed", first, killed_after_4, cfg, tmp_path, log=lambda _: None)
    # A new process: fresh weights, which the checkpoint (model, optimiser, step) must replace.
    torch.manual_seed(99)
    second = torch.nn.Linear(4, 1)
    lines = []
    history = trainer.train("resumed", second, _regression(second), cfg, tmp_path, log=lines.append)
    assert lines and "resumed at step 4" in lines[0]
    assert len(history) == 6
    for a, b in zip(straight.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def test_schedule_warms_up_then_decays():
    cfg = trainer.LoopConfig(steps=100, lr=1.0, warmup=10)
    assert trainer.lr_at(0, cfg) == 0.1
    assert trainer.lr_at(9, cfg) == 1.0
    assert trainer.lr_at(55, cfg) < 1.0
    assert trainer.lr_at(99, cfg) < 0.01
