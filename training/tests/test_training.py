import numpy as np
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


def test_resume_continues_from_the_checkpoint(tmp_path):
    p = pool.build(0, 4)
    model = Segmenter()
    step = train_segmenter.make_step(model, p, batch=1)
    cfg = trainer.LoopConfig(steps=4, lr=1e-3, warmup=1, checkpoint_every=2, log_every=100)
    trainer.train("seg", model, step, cfg, tmp_path, log=lambda _: None)
    lines = []
    cfg_more = trainer.LoopConfig(steps=6, lr=1e-3, warmup=1, checkpoint_every=2, log_every=100)
    history = trainer.train("seg", Segmenter(), train_segmenter.make_step(Segmenter(), p, batch=1), cfg_more, tmp_path, log=lines.append)
    assert lines and "resumed at step 4" in lines[0]
    assert len(history) == 6


def test_schedule_warms_up_then_decays():
    cfg = trainer.LoopConfig(steps=100, lr=1.0, warmup=10)
    assert trainer.lr_at(0, cfg) == 0.1
    assert trainer.lr_at(9, cfg) == 1.0
    assert trainer.lr_at(55, cfg) < 1.0
    assert trainer.lr_at(99, cfg) < 0.01
