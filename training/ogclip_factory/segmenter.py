"""A small promptable segmenter with exactly the I/O of the SAM2 `onnx-community` export.

Encoder: pixel_values [B,3,S,S] -> image_embeddings.0 [B,C0,S/4,S/4], .1 [B,C1,S/8,S/8],
.2 [B,C2,S/16,S/16]. Decoder: input_points [B,P,N,2] (pixels of the S frame), input_labels
int64 [B,P,N] (1 positive, 0 negative, -1 padding), input_boxes [B,nb,4] with nb in {0, P},
and the three embeddings -> iou_scores [B,P,3], pred_masks [B,P,3,S/4,S/4] (logits),
object_score_logits [B,P,1].

The decoder follows SAM's idea in miniature: the prompt picks a feature vector (the features
under its positive points, or inside its box) and every pixel is compared with it; a few
dilated convolutions turn that similarity, the prompt heat maps and the features into masks."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.BatchNorm2d(cout),
        nn.GELU(),
    )


PROMPT_CHANNELS = 8


class SegEncoder(nn.Module):
    def __init__(self, c0: int = 32, c1: int = 48, c2: int = 64):
        super().__init__()
        self.stem = nn.Sequential(_conv(3, 16, 2), _conv(16, c0, 2), _conv(c0, c0))  # S/4
        self.down1 = nn.Sequential(_conv(c0, c1, 2), _conv(c1, c1))  # S/8
        self.down2 = nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2, dilation=2))  # S/16

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        e0 = self.stem(pixel_values)  # [B,C0,S/4,S/4]
        e1 = self.down1(e0)  # [B,C1,S/8,S/8]
        e2 = self.down2(e1)  # [B,C2,S/16,S/16]
        return e0, e1, e2


class SegDecoder(nn.Module):
    def __init__(self, c0: int = 32, c1: int = 48, c2: int = 64, dim: int = 32, hidden: int = 16, sigma: float = 1.5):
        super().__init__()
        self.merge = nn.Conv2d(c0 + c1 + c2, dim, 1)
        self.sigma = sigma
        self.head = nn.Sequential(
            nn.Conv2d(dim + 4, hidden, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=4, dilation=4),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.GELU(),
        )
        self.mask_out = nn.Conv2d(hidden, 3, 1)
        # Per mask: predicted IoU and an objectness logit (averaged into object_score_logits).
        self.quality = nn.Sequential(nn.Linear(hidden + 1, 32), nn.GELU(), nn.Linear(32, 2))

    def first_layer(self, feats: torch.Tensor, maps: list[torch.Tensor]) -> torch.Tensor:
        """head[0] on each prompt's input: the features [B,D,h,w] beside its maps (each [B,P,h,w]).

        A convolution is linear in its input channels, so the features' part is computed once
        per image and added to each prompt's part: the same function as convolving the
        concatenation per prompt, without copying the features P times (in the export that copy
        and the wide convolution were more than half of a 64-prompt decoder call)."""
        first = self.head[0]
        # The split holds for this layer's plain convolution (the padding is passed on below).
        assert first.stride == (1, 1) and first.dilation == (1, 1) and first.groups == 1 and first.padding_mode == "zeros"
        b, p = maps[0].shape[:2]
        # Python ints, not traced shapes, so that the export folds the weight slices into constants.
        d = self.merge.out_channels
        shared = F.conv2d(feats, first.weight[:, :d], first.bias, padding=first.padding)  # [B,H,h,w]
        # Zero maps up to PROMPT_CHANNELS: onnxruntime's blocked (NCHWc) convolution wants a
        # multiple of 8 input channels; with 4 its generic one took 30 of 80 ms of a call.
        pad = PROMPT_CHANNELS - len(maps)
        prompt = torch.stack(maps + [torch.zeros_like(maps[0])] * pad, 2).flatten(0, 1)  # [B*P,8,h,w]
        wp = first.weight[:, d:]
        wp = torch.cat([wp, wp.new_zeros(first.out_channels, pad, *first.kernel_size)], 1)
        own = F.conv2d(prompt, wp, None, padding=first.padding)  # [B*P,H,h,w]
        return (shared[:, None] + own.view(b, p, *own.shape[1:])).flatten(0, 1)

    def forward(
        self,
        input_points: torch.Tensor,  # [B,P,N,2] in input pixels
        input_labels: torch.Tensor,  # [B,P,N] int64
        input_boxes: torch.Tensor,  # [B,nb,4], nb in {0, P}
        e0: torch.Tensor,
        e1: torch.Tensor,
        e2: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, _, h, w = e0.shape
        stride = 4.0  # embeddings.0 is at 1/4 of the input size
        feats = self.merge(
            torch.cat(
                [e0, F.interpolate(e1, size=(h, w), mode="bilinear", align_corners=False),
                 F.interpolate(e2, size=(h, w), mode="bilinear", align_corners=False)], 1
            )
        )  # [B,D,h,w]
        p = input_points.shape[1]
        ys = (torch.arange(h, dtype=torch.float32) + 0.5).view(1, 1, 1, h, 1)
        xs = (torch.arange(w, dtype=torch.float32) + 0.5).view(1, 1, 1, 1, w)
        pts = input_points / stride  # [B,P,N,2] in feature cells
        d2 = (xs - pts[..., 0, None, None]) ** 2 + (ys - pts[..., 1, None, None]) ** 2  # [B,P,N,h,w]
        heat = torch.exp(-d2 / (2 * self.sigma**2))
        lab = input_labels[..., None, None]
        pos = (heat * (lab == 1).float()).amax(2)  # [B,P,h,w]
        neg = (heat * (lab == 0).float()).amax(2)
        # Boxes: nb is 0 (points only) or P. Padding with empty boxes keeps one graph for both.
        boxes = torch.cat([input_boxes, torch.zeros_like(input_points[:, :, 0, :]).repeat(1, 1, 2)], 1)[:, :p] / stride
        bx = boxes[..., None, None]  # [B,P,4,1,1]
        inside = (
            torch.sigmoid((xs[:, :, 0] - bx[:, :, 0]) * 4) * torch.sigmoid((bx[:, :, 2] - xs[:, :, 0]) * 4)
            * torch.sigmoid((ys[:, :, 0] - bx[:, :, 1]) * 4) * torch.sigmoid((bx[:, :, 3] - ys[:, :, 0]) * 4)
        )  # [B,P,h,w]
        has_box = ((boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]) > 0).float()[..., None, None]
        inside = inside * has_box
        # The prompt's feature vector: under the positive points, else inside the box.
        wsum = pos + 1e-3 * inside
        q = torch.einsum("bphw,bdhw->bpd", wsum, feats) / (wsum.sum((2, 3))[..., None] + 1e-6)  # [B,P,D]
        fn = F.normalize(feats, dim=1)
        sim = torch.einsum("bpd,bdhw->bphw", F.normalize(q, dim=-1), fn)  # [B,P,h,w]
        x = self.first_layer(feats, [sim, pos, neg, inside])  # [B*P,H,h,w]
        hid = self.head[1:](x)
        masks = self.mask_out(hid)  # [B*P,3,h,w]
        soft = torch.sigmoid(masks)
        pooled = torch.einsum("nchw,nkhw->nck", hid, soft) / (soft.sum((2, 3))[:, None] + 1.0)  # [B*P,H,3]
        qual = self.quality(torch.cat([pooled.transpose(1, 2), soft.mean((2, 3))[..., None]], -1))  # [B*P,3,2]
        iou = qual[..., 0]  # [B*P,3]
        obj = qual[..., 1].mean(1, keepdim=True)  # [B*P,1]
        return iou.view(b, p, 3), masks.view(b, p, 3, h, w), obj.view(b, p, 1)


class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = SegEncoder()
        self.decoder = SegDecoder()

    def forward(self, pixel_values, input_points, input_labels, input_boxes):
        e0, e1, e2 = self.encoder(pixel_values)
        return self.decoder(input_points, input_labels, input_boxes, e0, e1, e2)
