"""One training loop for every model: AdamW, linear warm-up + cosine decay, seeded, with
checkpoints every `checkpoint_every` steps and resume from the latest one."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn


@dataclass
class LoopConfig:
    steps: int
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    checkpoint_every: int = 200
    log_every: int = 50
    seed: int = 0


def lr_at(step: int, cfg: LoopConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def train(
    name: str,
    model: nn.Module,
    step_fn: Callable[[np.random.Generator], torch.Tensor],
    cfg: LoopConfig,
    out: Path,
    log: Callable[[str], None] = print,
    on_checkpoint: Callable[[int], None] | None = None,
) -> list[float]:
    """Runs cfg.steps steps of step_fn (which samples a batch with the given rng and returns the
    loss); returns the loss history. A checkpoint at out/<name>.ckpt is resumed from."""
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / f"{name}.ckpt"
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, history = 0, []
    torch.manual_seed(cfg.seed)
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False, map_location=next(model.parameters()).device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start, history = state["step"], state["history"]
        torch.set_rng_state(state["torch_rng"])
        log(f"[{name}] resumed at step {start}")
    model.train()
    t0 = time.time()
    for step in range(start, cfg.steps):
        # One generator per step: a resumed run samples exactly the batches a fresh run would.
        rng = np.random.default_rng([cfg.seed, step])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        loss = step_fn(rng)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        history.append(loss.item())
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            recent = np.mean(history[-cfg.log_every :])
            elapsed = time.time() - t0
            eta = elapsed / (done - start) * (cfg.steps - done)
            log(f"[{name}] step {done}/{cfg.steps} loss {recent:.4f} ({elapsed:.0f}s, {(done - start) / max(elapsed, 1e-9):.2f} steps/s, ETA {eta:.0f}s)")
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": done, "history": history,
                        "torch_rng": torch.get_rng_state()}, ckpt)
            if on_checkpoint is not None:  # e.g. a validation score that picks the checkpoint to keep
                model.eval()
                on_checkpoint(done)
                model.train()
    model.eval()
    return history
