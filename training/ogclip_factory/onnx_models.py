"""The serving ONNX files, run by onnxruntime in the factory.

A head for a user's SAM2 + CLIP trains on features computed by the very files (and the very
preprocessing, `preprocess.py`, twin of src/tensor/) that the pipeline serves, so training and
serving cannot drift. The sections passed in are bundle.json's `sam2` / `clip` sections; paths in
them are relative to `root`.

Real exports vary in what they take: this module feeds `attention_mask` / `position_ids` when a
text tower has them, a joint CLIP `model.onnx` (both towers in one file, named for both
`clip.vision` and `clip.text`) with a small dummy for the modality not asked for, float16
inputs and outputs (converted at the boundary), and `dtype` variants (`<stem>_fp16.onnx`,
`<stem>_quantized.onnx` beside the file named)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from . import preprocess
from .clip import Tokenizer

DTYPE_SUFFIX = {"fp32": "", "fp16": "_fp16", "quantized": "_quantized"}
SAM2_EMB = ("image_embeddings.0", "image_embeddings.1", "image_embeddings.2")


class OnnxFormatError(ValueError):
    """A file that is not what its bundle section says; the message names the file and the mismatch."""


def variant_path(path: Path, dtype: str) -> Path:
    if dtype not in DTYPE_SUFFIX:
        raise OnnxFormatError(f"{path}: dtype must be one of {', '.join(DTYPE_SUFFIX)}, got {dtype!r}")
    return path.with_name(path.stem + DTYPE_SUFFIX[dtype] + path.suffix)


def external_files(path: Path) -> list[Path]:
    """The external-data files an ONNX file names (any `location`, chunked or not), in order."""
    if path.suffix != ".onnx" or not path.is_file():
        return []
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    found: dict[str, None] = {}
    for t in _get_all_tensors(model):
        if uses_external_data(t):
            found[ExternalDataInfo(t).location] = None
    return [path.parent / loc for loc in found]


def file_hash(paths: list[Path], extra: str = "") -> str:
    """sha256 over the files' bytes (and the external-data files they name) plus `extra`: the
    cache key of features computed with them."""
    h = hashlib.sha256(extra.encode())
    for p in paths:
        for f in [p, *external_files(p)]:
            if f.is_file():
                h.update(f.name.encode())
                with f.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
    return h.hexdigest()[:16]


def providers() -> list[str]:
    """CUDA when onnxruntime has it (onnxruntime-gpu installed), else CPU."""
    have = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]


_NP = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


class OrtModel:
    """One session; inputs cast to the types the file declares, float outputs returned as float32."""

    def __init__(self, path: Path, what: str):
        if not path.is_file():
            raise OnnxFormatError(f"{path}: file not found (expected a {what})")
        try:
            # From the path, not bytes: onnxruntime then finds external data (`*.onnx_data`) beside it.
            self.session = ort.InferenceSession(str(path), providers=providers())
        except Exception as e:  # onnxruntime raises its own exception types
            raise OnnxFormatError(f"{path}: onnxruntime could not load it as a {what}: {e}") from e
        self.path, self.what = path, what
        self.inputs = {i.name: i for i in self.session.get_inputs()}
        self.outputs = [o.name for o in self.session.get_outputs()]

    def require(self, inputs: list[str], outputs: list[str], optional: tuple[str, ...] = ()) -> None:
        problems = [f'missing input "{n}"' for n in inputs if n not in self.inputs]
        problems += [f'missing output "{n}"' for n in outputs if n not in self.outputs]
        problems += [f'unexpected input "{n}" that the adapter cannot feed' for n in self.inputs if n not in inputs and n not in optional]
        if problems:
            raise OnnxFormatError(f"{self.path}: not a {self.what}: {'; '.join(problems)} "
                                  f"(file has inputs {', '.join(self.inputs)}; outputs {', '.join(self.outputs)})")

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
        cast = {k: np.ascontiguousarray(v.astype(_NP.get(self.inputs[k].type, v.dtype), copy=False)) for k, v in feeds.items()}
        out = self.session.run(outputs, cast)
        return [o.astype(np.float32) if o.dtype == np.float16 else o for o in out]


def _ids_extras(model: OrtModel, ids: np.ndarray, eos: int) -> dict[str, np.ndarray]:
    """attention_mask: 1 up to and including the first EOS, 0 on the EOS padding after it;
    position_ids: 0..S-1. Fed only when the file has them (Xenova's text tower has neither)."""
    feeds: dict[str, np.ndarray] = {}
    if "attention_mask" in model.inputs:
        first = np.argmax(ids == eos, axis=1)
        feeds["attention_mask"] = (np.arange(ids.shape[1])[None] <= first[:, None]).astype(np.int64)
    if "position_ids" in model.inputs:
        feeds["position_ids"] = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int64), ids.shape).copy()
    return feeds


@dataclass
class Norm:
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class OrtClip:
    """CLIP towers of a bundle's `clip` section: vision -> (image_embeds [B,E], last_hidden_state
    [B,T,D]); text -> text_embeds [N,E]. Embeddings are not normalised (as the files give them)."""

    EXTRA = ("attention_mask", "position_ids")

    def __init__(self, section: dict, root: Path):
        dtype = section.get("dtype", "fp32")
        self.vision_path = variant_path(root / section["vision"], dtype)
        self.text_path = variant_path(root / section["text"], dtype)
        self.vision = OrtModel(self.vision_path, "CLIP vision tower")
        self.joint = self.text_path == self.vision_path
        self.text_model = self.vision if self.joint else OrtModel(self.text_path, "CLIP text tower")
        if self.joint:
            self.vision.what = "joint CLIP model"
            self.vision.require(["pixel_values", "input_ids"], ["image_embeds", "text_embeds", "vision_last_hidden_state"], self.EXTRA)
            self._hidden = "vision_last_hidden_state"
        else:
            self.vision.require(["pixel_values"], ["image_embeds", "last_hidden_state"])
            self.text_model.require(["input_ids"], ["text_embeds"], self.EXTRA)
            self._hidden = "last_hidden_state"
        self.norm = Norm(int(section.get("image_size", 224)), tuple(section.get("mean", preprocess.CLIP_MEAN)),
                         tuple(section.get("std", preprocess.CLIP_STD)))
        self.context = int(section.get("context_length", 77))
        self.tokenizer = Tokenizer(root / section["tokenizer"], self.context)
        self.key = file_hash(sorted({self.vision_path, self.text_path}) + [root / section["tokenizer"]],
                             f"{self.norm}{self.context}")

    def _dummy_ids(self) -> np.ndarray:
        return self.tokenizer([""]).numpy()

    def image(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pixels [B,3,V,V] normalised -> (image_embeds [B,E], last_hidden_state [B,T,D])."""
        feeds = {"pixel_values": pixels.numpy()}
        if self.joint:
            ids = np.repeat(self._dummy_ids(), pixels.shape[0], 0)
            feeds |= {"input_ids": ids, **_ids_extras(self.vision, ids, int(ids[0, -1]))}
        emb, hidden = self.vision.run(feeds, ["image_embeds", self._hidden])
        return torch.from_numpy(emb), torch.from_numpy(hidden)

    def texts(self, texts: list[str], batch: int = 256) -> torch.Tensor:
        out = []
        for i in range(0, len(texts), batch):
            ids = self.tokenizer(texts[i : i + batch]).numpy()
            feeds = {"input_ids": ids, **_ids_extras(self.text_model, ids, int(ids[0, -1]))}
            if self.joint:
                v = self.norm.size
                feeds["pixel_values"] = np.zeros((len(ids), 3, v, v), np.float32)
            out.append(torch.from_numpy(self.text_model.run(feeds, ["text_embeds"])[0]))
        return torch.cat(out) if out else torch.zeros(0, 0)


class OrtSam2:
    """SAM2 in the onnx-community layout: encoder once per frame, decoder with box prompts."""

    def __init__(self, section: dict, root: Path):
        if section.get("format", "onnx-community") != "onnx-community":
            raise OnnxFormatError(f"sam2.format {section.get('format')!r}: the factory reads onnx-community SAM2 exports "
                                  "(samexporter files serve in the pipeline but cannot make training masks yet)")
        dtype = section.get("dtype", "fp32")
        self.encoder_path = variant_path(root / section["encoder"], dtype)
        self.decoder_path = variant_path(root / section["decoder"], dtype)
        self.encoder = OrtModel(self.encoder_path, "SAM2 onnx-community vision encoder")
        self.encoder.require(["pixel_values"], list(SAM2_EMB))
        self.decoder = OrtModel(self.decoder_path, "SAM2 onnx-community prompt encoder + mask decoder")
        self.decoder.require(["input_points", "input_labels", *SAM2_EMB], ["iou_scores", "pred_masks"], ("input_boxes",))
        if "input_boxes" not in self.decoder.inputs:
            raise OnnxFormatError(f"{self.decoder_path}: this decoder takes no input_boxes; the factory prompts SAM2 with boxes")
        self.norm = Norm(int(section.get("input_size", 1024)), tuple(section.get("mean", preprocess.SAM_MEAN)),
                         tuple(section.get("std", preprocess.SAM_STD)))
        # The prompt encoding is part of the key: cached masks made another way must not be reused.
        self.key = file_hash([self.encoder_path, self.decoder_path], f"{self.norm} box-only prompts without a point")
        self._box_only_points: int | None = None

    def _decode_boxes(self, boxes: np.ndarray, emb: list[np.ndarray]) -> list[np.ndarray]:
        """Box-only prompts as SAM2 itself embeds them: no point input (an empty [1,P,0,2], as the
        pipeline's adapter sends it); a decoder that needs a point (the factory's own segmenter)
        gets one padding point (label -1) instead, learnt on the first call, as in the pipeline."""
        p = boxes.shape[1]

        def run(n: int) -> list[np.ndarray]:
            feeds = {"input_points": np.zeros((1, p, n, 2), np.float32), "input_labels": np.full((1, p, n), -1, np.int64),
                     "input_boxes": boxes, **dict(zip(SAM2_EMB, emb))}
            return self.decoder.run(feeds, ["iou_scores", "pred_masks"])

        if self._box_only_points is not None:
            return run(self._box_only_points)
        try:
            out, self._box_only_points = run(0), 0
        except Exception as first:  # onnxruntime's own error types
            try:
                out = run(1)
            except Exception:
                raise first from None  # not a decoder that needs a point: the first error stands
            self._box_only_points = 1
        return out

    def masks_from_boxes(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """frame [H,W,3] uint8, boxes [P,4] x1,y1,x2,y2 in frame pixels -> masks [P,H,W] bool: per
        box the mask with the best predicted IoU, logits upsampled bilinearly, threshold 0 (as the
        pipeline's prompted mode does)."""
        h, w = frame.shape[:2]
        s = self.norm.size
        pix = preprocess.resize(preprocess.normalise(frame, self.norm.mean, self.norm.std), s, s)[None]  # [1,3,S,S]
        emb = self.encoder.run({"pixel_values": pix.numpy()}, list(SAM2_EMB))
        scale = np.array([s / w, s / h, s / w, s / h], np.float32)
        out = []
        for i in range(0, len(boxes), 64):
            b = (np.asarray(boxes[i : i + 64], np.float32) * scale)[None]  # [1,P,4]
            iou, logits = self._decode_boxes(b, emb)  # [1,P,K], [1,P,K,m,m]
            p = b.shape[1]
            best = iou[0].argmax(1)
            chosen = torch.from_numpy(logits[0, np.arange(p), best])  # [P,m,m]
            up = torch.nn.functional.interpolate(chosen[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
            out.append((up > 0).numpy())
        return np.concatenate(out) if out else np.zeros((0, h, w), bool)
