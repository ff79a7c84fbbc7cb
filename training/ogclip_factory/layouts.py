"""bundle.json sections read from a downloaded public-layout folder.

    clip_section(Path("clip-vit-base-patch32"))   # Xenova / transformers.js CLIP
    sam2_section(Path("sam2.1-hiera-tiny-ONNX"))  # onnx-community SAM2

Paths in the returned sections are relative to the folder read; sizes and statistics come from its
files (preprocessor_config.json, tokenizer_config.json, the encoder's static input shape), never
from defaults. A folder that lacks what the pipeline needs raises LayoutError naming the folder
and what is missing."""
from __future__ import annotations

import json
from pathlib import Path

DTYPES = ("fp32", "fp16", "quantized")


class LayoutError(ValueError):
    pass


def _variant(rel: str, dtype: str) -> str:
    """The file bundle.json's dtype picks for the fp32 file rel (same rule as the pipeline)."""
    return rel if dtype == "fp32" else f"{rel[: -len('.onnx')]}_{dtype}.onnx"


def _need(folder: Path, rels: list[str], dtype: str, what: str) -> None:
    missing = [_variant(r, dtype) for r in rels if not (folder / _variant(r, dtype)).is_file()]
    if missing:
        raise LayoutError(f"{folder}: not a {what} folder at dtype {dtype}: missing {', '.join(missing)}")


def _json(folder: Path, rel: str, what: str) -> dict:
    path = folder / rel
    if not path.is_file():
        raise LayoutError(f"{folder}: not a {what} folder: missing {rel}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise LayoutError(f"{path}: not valid JSON ({err})") from err


def _side(value, key: str = "height") -> int | None:
    """A size as preprocessor configs write it: an int, or {height, width} / {shortest_edge}."""
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        for k in (key, "height", "shortest_edge", "longest_edge"):
            if isinstance(value.get(k), int):
                return value[k]
    return None


def _rgb(pre: dict, key: str, folder: Path) -> list[float]:
    v = pre.get(key)
    if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v)):
        raise LayoutError(f"{folder}: preprocessor_config.json has no 3-value {key}")
    return [float(x) for x in v]


def _input_dims(path: Path, name: str) -> list[int | str] | None:
    """Declared dims of one graph input (ints where static), read without the weights."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    for i in graph.input:
        if i.name == name:
            return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in i.type.tensor_type.shape.dim]
    return None


def _check_dtype(dtype: str) -> None:
    if dtype not in DTYPES:
        raise LayoutError(f"dtype {dtype!r}: must be one of {', '.join(DTYPES)}")


def clip_section(folder: Path, dtype: str = "fp32") -> dict:
    """The bundle.json `clip` section for a Xenova-layout CLIP folder: split towers
    (onnx/vision_model.onnx + onnx/text_model.onnx) when present, else the joint onnx/model.onnx
    for both (crop embedder only: it has no vision tokens)."""
    _check_dtype(dtype)
    folder = Path(folder)
    what = "Xenova CLIP"
    split = ["onnx/vision_model.onnx", "onnx/text_model.onnx"]
    if all((folder / r).is_file() for r in split):
        vision, text = split
    elif (folder / "onnx/model.onnx").is_file():
        vision = text = "onnx/model.onnx"
    else:
        raise LayoutError(f"{folder}: not a {what} folder: missing onnx/vision_model.onnx and onnx/text_model.onnx "
                          "(or the joint onnx/model.onnx)")
    _need(folder, list(dict.fromkeys([vision, text])), dtype, what)
    if not (folder / "tokenizer.json").is_file():
        raise LayoutError(f"{folder}: not a {what} folder: missing tokenizer.json")
    pre = _json(folder, "preprocessor_config.json", what)
    size = _side(pre.get("crop_size")) if pre.get("do_center_crop", True) else None
    size = size or _side(pre.get("size"))
    if size is None:
        raise LayoutError(f"{folder}: preprocessor_config.json gives no image size (crop_size / size)")
    dims = _input_dims(folder / _variant(vision, dtype), "pixel_values")
    if dims and isinstance(dims[-1], int) and dims[-1] > 0 and dims[-1] != size:
        raise LayoutError(f"{folder}: preprocessor_config.json says {size} px but {vision} takes {dims[-1]}")
    section = {"format": "xenova", "vision": vision, "text": text, "tokenizer": "tokenizer.json"}
    context = 77
    if (folder / "tokenizer_config.json").is_file():
        section["tokenizer_config"] = "tokenizer_config.json"
        tc = _json(folder, "tokenizer_config.json", what)
        # transformers writes a huge sentinel when a tokenizer has no limit of its own.
        if isinstance(tc.get("model_max_length"), int) and tc["model_max_length"] < 100_000:
            context = tc["model_max_length"]
    section.update(image_size=size, mean=_rgb(pre, "image_mean", folder), std=_rgb(pre, "image_std", folder),
                   context_length=context, dtype=dtype)
    return section


def sam2_section(folder: Path, dtype: str = "fp32") -> dict:
    """The bundle.json `sam2` section for an onnx-community-layout SAM2 folder. The input size
    is the encoder's static pixel_values size, else preprocessor_config.json's; mean / std come
    from preprocessor_config.json when the folder has one (else the pipeline's SAM2 defaults)."""
    _check_dtype(dtype)
    folder = Path(folder)
    what = "onnx-community SAM2"
    enc, dec = "onnx/vision_encoder.onnx", "onnx/prompt_encoder_mask_decoder.onnx"
    _need(folder, [enc, dec], dtype, what)
    dims = _input_dims(folder / _variant(enc, dtype), "pixel_values")
    if dims is None:
        raise LayoutError(f"{folder}: {_variant(enc, dtype)} has no pixel_values input")
    pre = _json(folder, "preprocessor_config.json", what) if (folder / "preprocessor_config.json").is_file() else {}
    size = dims[-1] if isinstance(dims[-1], int) and dims[-1] > 0 else _side(pre.get("size"), "longest_edge")
    if size is None:
        raise LayoutError(f"{folder}: the input size is neither static in {enc} nor given by a preprocessor_config.json")
    section = {"format": "onnx-community", "encoder": enc, "decoder": dec, "input_size": size}
    if pre:
        section.update(mean=_rgb(pre, "image_mean", folder), std=_rgb(pre, "image_std", folder))
    section["dtype"] = dtype
    return section
