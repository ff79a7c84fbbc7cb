"""The object-guided head: object branch + mask branch + CLIP branch -> fusion -> projection.

Each part is exported as its own ONNX file so that each pipeline stage runs one of them:
  object_branch: object_pixels [B,3K,R,R] (K masked crops) -> object_features [B,Fo]
  mask_branch:   object_mask   [B,1,M,M] (full-frame mask) -> mask_features [B,Fm]
  fusion:        object_features, mask_features, clip_features [B,Dv+E] -> fused [B,Hf]
  projection:    fused [B,Hf] -> embeds [B,E] (CLIP text space, not normalised)
An ablation drops a branch by feeding zeros in its place, so every variant has the same graph."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Fusion = Literal["mlp", "attention"]
Branch = Literal["object", "mask", "clip"]


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.GELU())


class ObjectBranch(nn.Module):
    """scales: how many crops of the object (e.g. 0.5, 1 and 2 times the crop window), stacked on
    the channel axis: [B,3*scales,R,R]."""

    def __init__(self, out: int = 96, scales: int = 1):
        super().__init__()
        self.net = nn.Sequential(_down(3 * scales, 24), _down(24, 48), _down(48, 64), _down(64, out))  # 64 -> 4

    def forward(self, object_pixels: torch.Tensor) -> torch.Tensor:
        return self.net(object_pixels).mean((2, 3))  # [B,Fo]


class MaskBranch(nn.Module):
    def __init__(self, out: int = 64):
        super().__init__()
        self.net = nn.Sequential(_down(1, 8), _down(8, 16), _down(16, 32), _down(32, 32))  # 64 -> 4
        # Flattened, not pooled: where the object is and how large it is are what this branch adds.
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 16 + 1, out), nn.GELU())

    def forward(self, object_mask: torch.Tensor) -> torch.Tensor:
        area = object_mask.mean((1, 2, 3))[:, None] * 10.0
        return self.fc(torch.cat([self.net(object_mask).flatten(1), area], 1))  # [B,Fm]


class FusionMLP(nn.Module):
    """Concatenation + 1x1 convolution (a linear layer on vectors) + MLP."""

    def __init__(self, fo: int, fm: int, fc: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(fo + fm + fc), nn.Linear(fo + fm + fc, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU())

    def forward(self, o, m, c):
        return self.net(torch.cat([o, m, c], 1))


class FusionAttention(nn.Module):
    """The three branch vectors as tokens, mixed by one self-attention layer."""

    def __init__(self, fo: int, fm: int, fc: int, hidden: int):
        super().__init__()
        self.inp = nn.ModuleList([nn.Linear(d, hidden) for d in (fo, fm, fc)])
        self.kind = nn.Parameter(torch.randn(3, hidden) * 0.02)
        self.attn = nn.MultiheadAttention(hidden, 4, batch_first=True)
        self.norm = nn.LayerNorm(hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU())

    def forward(self, o, m, c):
        tokens = torch.stack([f(x) for f, x in zip(self.inp, (o, m, c))], 1) + self.kind  # [B,3,H]
        mixed, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        return self.mlp(self.norm(tokens + mixed).mean(1))


class ObjectGuidedHead(nn.Module):
    def __init__(self, clip_dim: int, embed: int = 64, fusion: Fusion = "mlp", drop: Branch | None = None,
                 fo: int = 96, fm: int = 64, hidden: int = 256, object_scales: int = 1):
        super().__init__()
        self.drop = drop
        self.fusion_inputs = (fo, fm, clip_dim)
        self.object_scales = object_scales
        self.object_branch = ObjectBranch(fo, object_scales)
        self.mask_branch = MaskBranch(fm)
        fuse = FusionMLP if fusion == "mlp" else FusionAttention
        self.fusion = fuse(fo, fm, clip_dim, hidden)
        self.projection = nn.Linear(hidden, embed)
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # ln(1/0.07)

    def forward(self, object_pixels, object_mask, clip_features):
        o = self.object_branch(object_pixels)
        m = self.mask_branch(object_mask)
        c = clip_features
        if self.drop == "object":
            o = torch.zeros_like(o)
        elif self.drop == "mask":
            m = torch.zeros_like(m)
        elif self.drop == "clip":
            c = torch.zeros_like(c)
        return self.projection(self.fusion(o, m, c))
