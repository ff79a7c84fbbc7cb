"""A tiny CLIP with the I/O of the Xenova `clip-vit-base-patch32` export, and its tokenizer.

vision: pixel_values [B,3,V,V] -> image_embeds [B,E], last_hidden_state [B,1+G*G,Dv]
text:   input_ids int64 [B,77] -> text_embeds [B,E], last_hidden_state [B,77,Dt]
Embeddings are not normalised (as in the public export); callers normalise."""
from __future__ import annotations

import gzip
import json
import sysconfig
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

BOS, EOS = 49406, 49407
CONTEXT = 77
VOCAB = 49408


class VisionTower(nn.Module):
    def __init__(self, size: int = 64, patch: int = 8, dim: int = 64, embed: int = 64, layers: int = 2):
        super().__init__()
        self.grid = size // patch
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, 1 + self.grid**2, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, 4, dim * 2, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, embed, bias=False)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.patch(pixel_values).flatten(2).transpose(1, 2)  # [B,G*G,D]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        hidden = self.norm(self.blocks(x))  # [B,1+G*G,D]
        return self.proj(hidden[:, 0]), hidden


class TextTower(nn.Module):
    def __init__(self, dim: int = 32, embed: int = 64):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, dim)
        self.pos = nn.Parameter(torch.randn(1, CONTEXT, dim) * 0.02)
        self.mix = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))
        self.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, embed * 2), nn.GELU(), nn.Linear(embed * 2, embed))

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.tok(input_ids) + self.pos[:, : input_ids.shape[1]]  # [B,S,Dt]
        hidden = x + self.mix(x)
        # Pool the tokens up to and including the first EOS (the export has no attention mask).
        eos = (input_ids == EOS).int().argmax(1, keepdim=True)  # [B,1]
        keep = (torch.arange(input_ids.shape[1])[None, :] <= eos).float()[..., None]
        pooled = (hidden * keep).sum(1) / keep.sum(1)
        return self.out(pooled), hidden


class TinyClip(nn.Module):
    def __init__(self):
        super().__init__()
        self.vision = VisionTower()
        self.text = TextTower()
        self.logit_scale = nn.Parameter(torch.tensor(2.659))  # ln(1/0.07)


def vocab_file() -> Path:
    """The CLIP BPE vocabulary shipped inside the open_clip_torch wheel, found without import."""
    path = Path(sysconfig.get_paths()["purelib"]) / "open_clip" / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: install open-clip-torch (scripts/python-env.sh does)")
    return path


def build_tokenizer(out_dir: Path) -> Path:
    """Write tokenizer.json + tokenizer_config.json for the real CLIP BPE to out_dir."""
    from transformers import CLIPTokenizerFast

    tmp = out_dir / "_bpe"
    tmp.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(vocab_file()).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    bytes_to_unicode = _bytes_to_unicode()
    vocab = list(bytes_to_unicode.values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab.extend("".join(m.split()) for m in merges)
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    (tmp / "vocab.json").write_text(json.dumps({v: i for i, v in enumerate(vocab)}))
    (tmp / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok = CLIPTokenizerFast(vocab_file=str(tmp / "vocab.json"), merges_file=str(tmp / "merges.txt"),
                            model_max_length=CONTEXT, pad_token="<|endoftext|>")
    tok.save_pretrained(str(out_dir))
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    for extra in ("special_tokens_map.json", "vocab.json", "merges.txt"):
        (out_dir / extra).unlink(missing_ok=True)
    return out_dir / "tokenizer.json"


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


class Tokenizer:
    """Token ids as the pipeline computes them (src/models/clip.ts ClipTokenizer): BOS ... EOS, the
    end-of-text id being the encoding's last id (CLIP's post-processor appends it), cut to
    `context` keeping that id last, padded with it to `context`."""

    def __init__(self, tokenizer_json: Path, context: int = CONTEXT):
        from tokenizers import Tokenizer as HfTokenizer

        self._tok = HfTokenizer.from_file(str(tokenizer_json))
        self._tok.no_padding()
        self._tok.no_truncation()
        self.context = context

    def __call__(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for t in texts:
            ids = self._tok.encode(t).ids  # includes BOS/EOS from the post-processor
            eos = ids[-1] if ids else EOS
            ids = ids[: self.context - 1] + [eos] if len(ids) > self.context else ids
            rows.append(ids + [eos] * (self.context - len(ids)))
        return torch.tensor(rows, dtype=torch.int64)


def contrastive(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE between matched rows of a and b."""
    logits = logit_scale.exp().clamp(max=100) * F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
    target = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
