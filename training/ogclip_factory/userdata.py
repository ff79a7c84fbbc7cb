"""Reading a user's own labelled images (seed dataset JSON or COCO instances) to train the
object-guided head on them.

User data is messy: a missing file, a box drawn past the edge, a mask exported at another
resolution. Every bad entry becomes a `Problem` naming the entry and the reason; with
on_bad="skip" the entry is dropped (the object, or the whole image when the image itself is
bad) and loading carries on, so one bad label does not cost the whole dataset; with
on_bad="fail" the first one raises `DatasetError`. A file that is neither format raises
regardless, since nothing in it can be trusted.

Conventions:
* Boxes are [x1, y1, x2, y2] in the stored pixel grid of the file (EXIF orientation is not
  applied); a box may reach past the image by at most `EDGE_TOLERANCE` pixels (rounding in
  labelling tools) and is then clipped to it; further than that it is a problem.
* Masks are [H, W] bool arrays. COCO RLE is column-major, `counts` either the uncompressed
  list or COCO's compressed string (`rle_from_string`). A mask that is absent, null or an
  empty list means "no mask" (`UserObject.mask is None`), as in detection-only COCO exports.
* Polygons use COCO's continuous coordinates, where (0, 0) is the top-left corner of the top-left
  pixel and pixel (i, j) covers [i, i + 1) x [j, j + 1). A pixel belongs to the mask when about
  half of it or more is covered, estimated on a 4 x 4 sub-pixel grid filled with PIL's
  `ImageDraw.polygon`. (Filled at pixel resolution, PIL truncates vertices to pixel indices and
  includes the outline, which grows every mask by a row and a column.) An axis-aligned integer
  rectangle gives exactly its pixels; other shapes their area to within about a tenth of their
  perimeter. Several polygons form their union; parts outside the image are cut off.
"""
from __future__ import annotations

import hashlib
import json
import math
import reprlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

from . import rle
from .dataset import DatasetError

__all__ = [
    "DatasetError", "Loaded", "OnBad", "Problem", "ProblemKind", "UserImage", "UserObject",
    "load", "load_coco", "load_seed", "report", "rle_from_string", "rle_to_string",
    "split_by_image",
]

OnBad = Literal["skip", "fail"]
ProblemKind = Literal[
    "bad_record",  # an entry of the wrong JSON shape or missing a required field
    "duplicate_image",  # an image (key or COCO id) listed twice
    "image_missing",
    "image_unreadable",
    "image_size_mismatch",  # the dataset's width/height disagree with the file
    "bad_bbox",  # not 4 finite numbers
    "degenerate_bbox",  # zero or negative width or height
    "bbox_outside",  # no overlap with the image at all
    "bbox_past_edge",  # reaches more than EDGE_TOLERANCE pixels past the image
    "empty_description",
    "bad_mask",  # undecodable RLE or polygon
    "mask_size_mismatch",
    "empty_mask",
    "unknown_category",
    "unknown_image",
    "no_objects_left",  # every object of the image was skipped
]

# Labelling tools round box corners; past the image by this much is clipped, not reported.
EDGE_TOLERANCE = 1.0
_REPORT_ENTRIES = 20
_SUBPIXELS = 4  # per pixel side, for polygon coverage
_repr = reprlib.Repr()
_repr.maxlist, _repr.maxstring = 8, 60  # reasons quote the bad value, not a whole mask
_short = _repr.repr


# eq=False: a generated __eq__/__hash__ would compare and hash the mask array, which numpy refuses.
@dataclass(frozen=True, eq=False)
class UserObject:
    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels, inside the image
    description: str
    mask: np.ndarray | None  # [H, W] bool, read-only; None when the dataset has no mask for it


@dataclass(frozen=True)
class UserImage:
    key: str  # stable id: the image path as written in the dataset (seed) or the COCO file_name
    image_path: Path  # resolved
    width: int
    height: int
    objects: tuple[UserObject, ...]


@dataclass(frozen=True)
class Problem:
    where: str  # e.g. "dataset.json: images[3].objects[1]" or "instances.json: annotations[17] (id 9001)"
    reason: str
    kind: ProblemKind  # the reason's category, for counting (`report`) and for tests


@dataclass
class Loaded:
    images: list[UserImage]
    problems: list[Problem]
    skipped_crowd: int  # COCO iscrowd annotations: regions, not objects, so never used
    # Images listed without any (non-crowd) objects: nothing to train on, but not an error
    # (COCO itself has such images).
    skipped_unlabelled: int

    def vocabulary(self) -> list[str]:
        """Sorted unique descriptions: the texts the head is trained against."""
        return sorted({o.description for im in self.images for o in im.objects})


class _Bad(Exception):
    """Raised by the checks below and turned into a Problem by the loop that knows the entry."""

    def __init__(self, kind: ProblemKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class _Problems:
    """Collects problems; in fail mode the first one raises instead."""

    def __init__(self, on_bad: OnBad) -> None:
        if on_bad not in ("skip", "fail"):
            raise ValueError(f"on_bad must be 'skip' or 'fail', got {on_bad!r}")
        self.fail = on_bad == "fail"
        self.items: list[Problem] = []

    def add(self, where: str, bad: _Bad) -> None:
        if self.fail:
            raise DatasetError(f"{where}: {bad.reason}")
        self.items.append(Problem(where, bad.reason, bad.kind))


# --- COCO compressed RLE -------------------------------------------------------------------

def rle_from_string(s: str) -> list[int]:
    """Decode COCO's compressed RLE `counts` string (maskApi rleFrString) into run lengths.

    Each count is written in 5-bit groups, least significant first, as characters 48 + group,
    with 0x20 set on all but the last group and the last group's 0x10 bit its sign. From the
    fourth count on (index > 2, as in maskApi) the value is stored as the difference to the
    count two before, i.e. to the previous run of the same colour."""
    counts: list[int] = []
    x = 0
    k = 0
    for ch in s:
        c = ord(ch) - 48
        if not 0 <= c < 64:
            raise ValueError(f"character {ch!r} is outside the compressed RLE alphabet '0'..'o'")
        x |= (c & 0x1F) << (5 * k)
        k += 1
        if c & 0x20:
            continue
        if c & 0x10:
            x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
        x = 0
        k = 0
    if k:
        raise ValueError("compressed RLE string ends inside a count")
    return counts


def rle_to_string(counts: Sequence[int]) -> str:
    """Encode run lengths as COCO's compressed RLE string (maskApi rleToString), the inverse of
    `rle_from_string`; lets tests and exports write the format real COCO files use."""
    out: list[str] = []
    for i, n in enumerate(counts):
        x = int(n) - int(counts[i - 2]) if i > 2 else int(n)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr(48 + c + (0x20 if more else 0)))
    return "".join(out)


# --- checks shared by both formats ----------------------------------------------------------

def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_finite_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: cannot be read as JSON ({e})") from e


def _resolve(root: Path, written: str) -> Path:
    p = Path(written)
    return (p if p.is_absolute() else root / p).resolve()


_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def _image_size(path: Path, written: str) -> tuple[int, int]:
    """(width, height) of the image as displayed: EXIF orientation applied, as the pipeline's
    decoder applies it, so boxes and masks are in the orientation the pipeline sees. From the
    file header; verify() checks the file's structure without decoding every pixel, which keeps
    loading a large dataset cheap."""
    if not path.is_file():
        raise _Bad("image_missing", f"image {written!r} not found (looked for {path})")
    try:
        with Image.open(path) as im:
            im.verify()  # must come straight after open
        with Image.open(path) as im:
            size = im.size
            if im.getexif().get(0x0112) in _ROTATED:
                size = (size[1], size[0])
    # Pillow's decoders raise assorted types (OSError, SyntaxError, struct.error, ...) on bad files.
    except Exception as e:  # noqa: BLE001
        raise _Bad("image_unreadable", f"image {written!r} cannot be read ({type(e).__name__}: {e})") from e
    return int(size[0]), int(size[1])


def _located_image(root: Path, key: str, rec: dict) -> tuple[Path, int, int]:
    """The image's resolved path and displayed size, checked against the size the record states."""
    path = _resolve(root, key)
    width, height = _image_size(path, key)
    _check_stated_size(rec, width, height)
    return path, width, height


def _check_stated_size(rec: dict, width: int, height: int) -> None:
    """A dataset that states another size than the file was labelled on another version of the
    image (resized, or rotated by EXIF), so its boxes cannot be trusted."""
    if "width" not in rec and "height" not in rec:
        return
    w, h = rec.get("width"), rec.get("height")
    if (w, h) != (width, height):
        raise _Bad(
            "image_size_mismatch",
            f"dataset states width x height {_short(w)} x {_short(h)} but the file is {width} x {height}",
        )


def _four_finite(value: object) -> tuple[float, float, float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 4 and all(_is_finite_number(v) for v in value)):
        raise _Bad("bad_bbox", f"bbox must be 4 finite numbers, got {_short(value)}")
    a, b, c, d = (float(v) for v in value)
    return a, b, c, d


def _check_box(
    box: tuple[float, float, float, float], width: int, height: int, written: object
) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        raise _Bad("degenerate_bbox", f"bbox {_short(written)} has zero or negative width or height")
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise _Bad("bbox_outside", f"bbox {_short(written)} lies entirely outside the {width} x {height} image")
    t = EDGE_TOLERANCE
    if x1 < -t or y1 < -t or x2 > width + t or y2 > height + t:
        raise _Bad(
            "bbox_past_edge",
            f"bbox {_short(written)} reaches more than {t:g} pixel past the {width} x {height} image",
        )
    return max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height))


def _description(value: object, what: str = "description") -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("empty_description", f"{what} must be a non-empty string, got {_short(value)}")
    return value.strip()


def _rle_mask(spec: dict, width: int, height: int) -> np.ndarray:
    size, counts = spec.get("size"), spec.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v >= 0 for v in size)):
        raise _Bad("bad_mask", f"RLE size must be [height, width], got {_short(size)}")
    if size != [height, width]:
        raise _Bad(
            "mask_size_mismatch",
            f"mask is {size[1]} x {size[0]} (width x height) but the image is {width} x {height}",
        )
    if isinstance(counts, str):
        try:
            counts = rle_from_string(counts)
        except ValueError as e:
            raise _Bad("bad_mask", f"bad compressed RLE ({e})") from e
    if not (isinstance(counts, list) and all(_is_int(c) and c >= 0 for c in counts)):
        raise _Bad("bad_mask", "RLE counts must be non-negative integers (a list, or COCO's compressed string)")
    try:
        return rle.decode({"size": size, "counts": counts})
    except ValueError as e:
        raise _Bad("bad_mask", f"bad RLE ({e})") from e


def _polygon_mask(polygons: list, width: int, height: int) -> np.ndarray:
    """Rasterise at _SUBPIXELS x the resolution, only over each polygon's box inside the image
    (memory), and keep the pixels that are at least half covered (see the module docstring)."""
    s = _SUBPIXELS
    mask = np.zeros((height, width), dtype=bool)
    for p in polygons:
        if not (isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and all(_is_finite_number(v) for v in p)):
            raise _Bad("bad_mask", f"a polygon must be [x1, y1, x2, y2, ...] with >= 3 points, got {_short(p)}")
        xs, ys = p[0::2], p[1::2]
        x0, y0 = max(math.floor(min(xs)), 0), max(math.floor(min(ys)), 0)
        x1, y1 = min(math.ceil(max(xs)), width), min(math.ceil(max(ys)), height)
        if x1 <= x0 or y1 <= y0:
            continue  # outside the image: covers nothing here
        canvas = Image.new("L", ((x1 - x0) * s, (y1 - y0) * s), 0)
        ImageDraw.Draw(canvas).polygon([((x - x0) * s, (y - y0) * s) for x, y in zip(xs, ys)], fill=1)
        covered = np.asarray(canvas).reshape(y1 - y0, s, x1 - x0, s).sum(axis=(1, 3))
        # PIL's fill also sets one sub-pixel row and column past the right and bottom edges;
        # asking for s/2 more than half the sub-pixels cancels that bias on average.
        mask[y0:y1, x0:x1] |= covered >= s * s // 2 + s // 2
    return mask


def _optional_mask(spec: object, width: int, height: int) -> np.ndarray | None:
    if spec is None or spec == []:
        return None
    if isinstance(spec, dict):
        mask = _rle_mask(spec, width, height)
    elif isinstance(spec, list):
        mask = _polygon_mask(spec, width, height)
    else:
        raise _Bad("bad_mask", f"mask must be COCO RLE {{size, counts}} or a list of polygons, got {_short(spec)}")
    if not mask.any():
        raise _Bad("empty_mask", "mask has no pixels")
    mask.flags.writeable = False
    return mask


# --- the seed project's dataset JSON --------------------------------------------------------

def _seed_object(o: object, width: int, height: int) -> UserObject:
    if not isinstance(o, dict):
        raise _Bad("bad_record", f"object must be a JSON object, got {_short(o)}")
    written = o.get("bbox")
    box = _check_box(_four_finite(written), width, height, written)
    return UserObject(box, _description(o.get("description")), _optional_mask(o.get("mask"), width, height))


def _from_seed(doc: dict, name: str, root: Path, problems: _Problems) -> Loaded:
    records = doc["images"]
    if not isinstance(records, list):
        raise DatasetError(f"{name}: 'images' must be a list")
    images: list[UserImage] = []
    unlabelled = 0
    seen: dict[str, int] = {}
    for i, rec in enumerate(records):
        where = f"{name}: images[{i}]"
        try:
            if not isinstance(rec, dict):
                raise _Bad("bad_record", f"image entry must be a JSON object, got {_short(rec)}")
            key = rec.get("image_path")
            if not isinstance(key, str) or not key.strip():
                raise _Bad("bad_record", "missing image_path")
            # The same file under two spellings (a/b.jpg, ./a/b.jpg) would land on both sides of the split.
            resolved = str(_resolve(root, key))
            if resolved in seen:
                raise _Bad("duplicate_image", f"image_path {key!r} is already listed at images[{seen[resolved]}]")
            seen[resolved] = i
            objs = rec.get("objects")
            if not isinstance(objs, list):
                raise _Bad("bad_record", f"'objects' must be a list, got {_short(objs)}")
            if not objs:
                unlabelled += 1
                continue
            path, width, height = _located_image(root, key, rec)
        except _Bad as bad:
            problems.add(where, bad)
            continue
        objects: list[UserObject] = []
        for j, o in enumerate(objs):
            try:
                objects.append(_seed_object(o, width, height))
            except _Bad as bad:
                problems.add(f"{where}.objects[{j}]", bad)
        if objects:
            images.append(UserImage(key, path, width, height, tuple(objects)))
        else:
            problems.add(where, _Bad("no_objects_left", f"all {len(objs)} objects were skipped"))
    return Loaded(images, problems.items, 0, unlabelled)


# --- COCO instances -------------------------------------------------------------------------

def _check_template(template: str) -> None:
    try:
        ok = template.format("\0").count("\0") == 1
    except (IndexError, KeyError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"template must contain exactly one '{{}}' for the category name, got {template!r}")


def _with_id(where: str, rec: object) -> str:
    return f"{where} (id {rec['id']})" if isinstance(rec, dict) and _is_int(rec.get("id")) else where


def _coco_object(a: dict, categories: dict[int, object], template: str, width: int, height: int) -> UserObject:
    cat = a.get("category_id")
    if not (_is_int(cat) and cat in categories):
        raise _Bad("unknown_category", f"category_id {_short(cat)} is not in 'categories'")
    written = a.get("bbox")
    x, y, w, h = _four_finite(written)
    box = _check_box((x, y, x + w, y + h), width, height, written)
    name = _description(categories[cat], f"name of category {cat}")
    return UserObject(box, template.format(name), _optional_mask(a.get("segmentation"), width, height))


def _from_coco(doc: dict, name: str, root: Path, template: str, problems: _Problems) -> Loaded:
    for field in ("images", "annotations", "categories"):
        if not isinstance(doc.get(field), list):
            raise DatasetError(f"{name}: COCO '{field}' must be a list")

    categories: dict[int, object] = {}
    for k, c in enumerate(doc["categories"]):
        where = _with_id(f"{name}: categories[{k}]", c)
        if not (isinstance(c, dict) and _is_int(c.get("id"))):
            problems.add(where, _Bad("bad_record", "category must be an object with an integer id"))
        elif c["id"] in categories:
            problems.add(where, _Bad("bad_record", f"category id {c['id']} is listed twice"))
        else:
            categories[c["id"]] = c.get("name")

    listed: dict[int, tuple[int, dict]] = {}  # image id -> (index, record), in file order
    file_names: dict[str, int] = {}
    for i, rec in enumerate(doc["images"]):
        where = _with_id(f"{name}: images[{i}]", rec)
        if not (isinstance(rec, dict) and _is_int(rec.get("id"))):
            problems.add(where, _Bad("bad_record", "image must be an object with an integer id"))
        elif not isinstance(rec.get("file_name"), str) or not rec["file_name"].strip():
            problems.add(where, _Bad("bad_record", "missing file_name"))
        elif rec["id"] in listed:
            problems.add(where, _Bad("duplicate_image", f"image id {rec['id']} is already listed at images[{listed[rec['id']][0]}]"))
        elif rec["file_name"] in file_names:
            problems.add(where, _Bad("duplicate_image", f"file_name {rec['file_name']!r} is already listed at images[{file_names[rec['file_name']]}]"))
        else:
            listed[rec["id"]] = (i, rec)
            file_names[rec["file_name"]] = i

    crowd = 0
    per_image: dict[int, list[tuple[str, dict]]] = {}
    for k, a in enumerate(doc["annotations"]):
        where = _with_id(f"{name}: annotations[{k}]", a)
        if not isinstance(a, dict):
            problems.add(where, _Bad("bad_record", f"annotation must be a JSON object, got {_short(a)}"))
        elif a.get("iscrowd"):
            crowd += 1
        elif not (_is_int(a.get("image_id")) and a["image_id"] in listed):
            problems.add(where, _Bad("unknown_image", f"image_id {_short(a.get('image_id'))} is not in 'images'"))
        else:
            per_image.setdefault(a["image_id"], []).append((where, a))

    images: list[UserImage] = []
    unlabelled = 0
    for image_id, (i, rec) in listed.items():
        annotations = per_image.get(image_id)
        if not annotations:
            unlabelled += 1
            continue
        where = f"{name}: images[{i}] (id {image_id})"
        key = rec["file_name"]
        try:
            path, width, height = _located_image(root, key, rec)
        except _Bad as bad:
            problems.add(where, bad)
            continue
        objects: list[UserObject] = []
        for ann_where, a in annotations:
            try:
                objects.append(_coco_object(a, categories, template, width, height))
            except _Bad as bad:
                problems.add(ann_where, bad)
        if objects:
            images.append(UserImage(key, path, width, height, tuple(objects)))
        else:
            problems.add(where, _Bad("no_objects_left", f"all {len(annotations)} annotations were skipped"))
    return Loaded(images, problems.items, crowd, unlabelled)


# --- entry points ---------------------------------------------------------------------------

def _is_coco(doc: object) -> bool:
    return isinstance(doc, dict) and "annotations" in doc and "categories" in doc


def load_seed(path: Path, on_bad: OnBad = "skip", images_dir: Path | None = None) -> Loaded:
    """Load the seed project's dataset JSON; relative image paths are resolved against
    images_dir, by default the JSON's folder."""
    path = Path(path)
    problems = _Problems(on_bad)
    doc = _read_json(path)
    if not (isinstance(doc, dict) and "images" in doc) or _is_coco(doc):
        raise DatasetError(f"{path}: not a seed dataset JSON (an object with an 'images' list)")
    return _from_seed(doc, path.name, Path(images_dir) if images_dir else path.parent, problems)


def load_coco(
    path: Path, on_bad: OnBad = "skip", images_dir: Path | None = None, template: str = "a photo of a {}"
) -> Loaded:
    """Load COCO instances; each object's description is `template` filled with its category
    name. Images are looked up as images_dir / file_name, by default next to the JSON."""
    path = Path(path)
    problems = _Problems(on_bad)
    _check_template(template)
    doc = _read_json(path)
    if not _is_coco(doc):
        raise DatasetError(f"{path}: not COCO instances (an object with 'annotations' and 'categories')")
    return _from_coco(doc, path.name, Path(images_dir) if images_dir else path.parent, template, problems)


def load(
    path: Path, on_bad: OnBad = "skip", images_dir: Path | None = None, template: str = "a photo of a {}"
) -> Loaded:
    """Load either format, detected from the top level: COCO when it has "annotations" and
    "categories", the seed format when it has "images". `template` only applies to COCO."""
    path = Path(path)
    problems = _Problems(on_bad)
    _check_template(template)
    doc = _read_json(path)
    root = Path(images_dir) if images_dir else path.parent
    if _is_coco(doc):
        return _from_coco(doc, path.name, root, template, problems)
    if isinstance(doc, dict) and "images" in doc:
        return _from_seed(doc, path.name, root, problems)
    raise DatasetError(
        f"{path}: neither a seed dataset JSON ('images') nor COCO instances ('annotations' and 'categories')"
    )


def split_by_image(
    images: list[UserImage], test_fraction: float, seed: int
) -> tuple[list[UserImage], list[UserImage]]:
    """(train, test), each sorted by key. An image is on the test side when a hash of
    (seed, key) falls below test_fraction, so its side does not depend on which other images
    the dataset holds: adding labelled images later never moves a test image into training.
    With two or more images both sides are non-empty (the extreme hash moves over if needed)."""
    if not (isinstance(test_fraction, (int, float)) and 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    keys = [im.key for im in images]
    if len(set(keys)) != len(keys):
        raise ValueError("image keys must be unique to split by image")

    def draw(im: UserImage) -> float:
        digest = hashlib.sha256(f"{seed}\0{im.key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    ranked = sorted(images, key=draw)
    n_test = sum(draw(im) < test_fraction for im in ranked)
    if len(ranked) >= 2:
        n_test = min(max(n_test, 1), len(ranked) - 1)
    test, train = ranked[:n_test], ranked[n_test:]
    return sorted(train, key=lambda im: im.key), sorted(test, key=lambda im: im.key)


def report(loaded: Loaded) -> str:
    """A console summary: what was loaded, problem counts by kind, then the first entries."""
    n_objects = sum(len(im.objects) for im in loaded.images)
    lines = [
        f"{len(loaded.images)} images, {n_objects} objects, {len(loaded.vocabulary())} distinct descriptions"
        f" (skipped: {loaded.skipped_crowd} crowd regions, {loaded.skipped_unlabelled} images without objects)"
    ]
    if not loaded.problems:
        lines.append("no problems")
        return "\n".join(lines)
    lines.append(f"{len(loaded.problems)} problems (entries skipped):")
    for kind, count in Counter(p.kind for p in loaded.problems).most_common():
        lines.append(f"  {count:6d}  {kind}")
    for p in loaded.problems[:_REPORT_ENTRIES]:
        lines.append(f"  {p.where}: {p.reason}")
    if len(loaded.problems) > _REPORT_ENTRIES:
        lines.append(f"  ... and {len(loaded.problems) - _REPORT_ENTRIES} more")
    return "\n".join(lines)
