import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ogclip_factory import dataset, rle, userdata
from ogclip_factory.userdata import DatasetError

W, H = 40, 30


def _png(path, width=W, height=H):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 150)).save(path)


def _rect_mask(x1, y1, x2, y2):
    m = np.zeros((H, W), dtype=bool)
    m[y1:y2, x1:x2] = True
    return m


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def _seed_doc():
    """Image 0 has three objects (uncompressed RLE, compressed RLE, no mask); image 1 has two
    (polygon mask, no mask key at all)."""
    compressed = rle.encode(_rect_mask(20, 10, 30, 25))
    compressed["counts"] = userdata.rle_to_string(compressed["counts"])
    return {
        "images": [
            {
                "image_path": "images/a.png",
                "width": W,
                "height": H,
                "objects": [
                    {"bbox": [2, 3, 12, 9], "description": "red round object", "mask": rle.encode(_rect_mask(2, 3, 12, 9))},
                    {"bbox": [20, 10, 30, 25], "description": " blue square ", "mask": compressed},
                    {"bbox": [0, 0, 5, 5], "description": "green thing", "mask": None},
                ],
            },
            {
                "image_path": "images/b.png",
                "objects": [
                    {"bbox": [5, 5, 15, 15], "description": "yellow box", "mask": [[5, 5, 15, 5, 15, 15, 5, 15]]},
                    {"bbox": [20, 2, 35, 20], "description": "red round object"},
                ],
            },
        ]
    }


@pytest.fixture()
def seed(tmp_path):
    _png(tmp_path / "images" / "a.png")
    _png(tmp_path / "images" / "b.png")
    return _write(tmp_path / "dataset.json", _seed_doc())


def _n_objects(loaded):
    return sum(len(im.objects) for im in loaded.images)


def test_seed_dataset_loads_every_mask_kind(seed):
    loaded = userdata.load(seed)
    assert loaded.problems == [] and loaded.skipped_crowd == 0 and loaded.skipped_unlabelled == 0
    a, b = loaded.images
    assert (a.key, a.width, a.height) == ("images/a.png", W, H)
    assert a.image_path == (seed.parent / "images" / "a.png").resolve()
    assert [o.bbox for o in a.objects] == [(2.0, 3.0, 12.0, 9.0), (20.0, 10.0, 30.0, 25.0), (0.0, 0.0, 5.0, 5.0)]
    np.testing.assert_array_equal(a.objects[0].mask, _rect_mask(2, 3, 12, 9))
    np.testing.assert_array_equal(a.objects[1].mask, _rect_mask(20, 10, 30, 25))
    assert a.objects[1].description == "blue square"
    assert a.objects[2].mask is None
    # Polygon corners are in COCO's continuous coordinates: the square covers pixels 5..14 exactly.
    np.testing.assert_array_equal(b.objects[0].mask, _rect_mask(5, 5, 15, 15))
    assert b.objects[1].mask is None
    assert loaded.vocabulary() == ["blue square", "green thing", "red round object", "yellow box"]
    with pytest.raises(ValueError):
        a.objects[0].mask[0, 0] = True  # read-only: a frozen object's mask cannot change under it


def test_the_projects_synthetic_split_loads_without_problems(tmp_path):
    path = dataset.write_split(tmp_path, first_seed=11, count=3, image_format="png")
    loaded = userdata.load(path, on_bad="fail")
    expected = dataset.load(path)
    assert [im.image_path for im in loaded.images] == [e.image_path.resolve() for e in expected]
    for im, e in zip(loaded.images, expected):
        assert [list(o.bbox) for o in im.objects] == e.bboxes
        assert all(np.array_equal(o.mask, m) for o, m in zip(im.objects, e.masks))


def test_images_dir_overrides_the_json_folder(tmp_path):
    _png(tmp_path / "elsewhere" / "images" / "a.png")
    _png(tmp_path / "elsewhere" / "images" / "b.png")
    path = _write(tmp_path / "dataset.json", _seed_doc())
    loaded = userdata.load(path, images_dir=tmp_path / "elsewhere")
    assert loaded.problems == []
    assert loaded.images[0].image_path == (tmp_path / "elsewhere" / "images" / "a.png").resolve()


# --- compressed RLE ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, counts",
    [
        # 16 needs two groups: a lone 16 (0b10000) would read as negative, so '`' (48+32+16) then '0'.
        ("0`04", [0, 16, 4]),
        # The fourth count is stored as its difference to the second: 2 - 5 = -3 -> 29 | sign -> 'M'.
        ("151M", [1, 5, 1, 2]),
        # 100 = 3 * 32 + 4: low group 4 with the continuation bit (48+32+4 = 'T'), then '3'.
        ("T3", [100]),
    ],
)
def test_known_compressed_strings(text, counts):
    assert userdata.rle_from_string(text) == counts
    assert userdata.rle_to_string(counts) == text


def test_compressed_rle_round_trips_through_decode():
    rng = np.random.default_rng(3)
    for _ in range(30):
        h, w = rng.integers(1, 60, size=2)
        mask = rng.random((h, w)) < rng.random()
        counts = rle.encode(mask)["counts"]
        text = userdata.rle_to_string(counts)
        assert userdata.rle_from_string(text) == counts
        assert re.fullmatch(r"[0-o]*", text)
    assert userdata.rle_from_string(userdata.rle_to_string([0, 123456, 7, 99999, 1])) == [0, 123456, 7, 99999, 1]


def test_known_compressed_string_decodes_to_the_mask(tmp_path):
    _png(tmp_path / "a.png", 5, 4)
    doc = {"images": [{"image_path": "a.png", "objects": [
        {"bbox": [0, 0, 4, 4], "description": "x", "mask": {"size": [4, 5], "counts": "0`04"}}]}]}
    mask = userdata.load(_write(tmp_path / "d.json", doc)).images[0].objects[0].mask
    expected = np.zeros((4, 5), dtype=bool)
    expected[:, :4] = True  # column-major: the first 16 pixels are the first four columns
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize("text", ["0`", "01p", "0 1"])
def test_malformed_compressed_strings_are_rejected(text):
    with pytest.raises(ValueError):
        userdata.rle_from_string(text)


# --- polygons -----------------------------------------------------------------------------------

def _shoelace(p):
    x, y = np.array(p[0::2]), np.array(p[1::2])
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _perimeter(p):
    x, y = np.array(p[0::2]), np.array(p[1::2])
    return float(np.hypot(np.roll(x, -1) - x, np.roll(y, -1) - y).sum())


def test_polygon_masks_cover_about_the_polygon_area(tmp_path):
    triangle = [2.3, 3.7, 36.2, 5.1, 19.5, 28.9]
    pentagon = [5, 5, 25, 5, 25, 15, 15, 25, 5, 15]
    _png(tmp_path / "a.png")
    doc = {"images": [{"image_path": "a.png", "objects": [
        {"bbox": [2, 3, 37, 29], "description": "t", "mask": [triangle]},
        {"bbox": [5, 5, 25, 25], "description": "p", "mask": [pentagon]},
        {"bbox": [0, 0, 40, 30], "description": "two parts", "mask": [[0, 0, 10, 0, 10, 10, 0, 10], [30, 20, 40, 20, 40, 30, 30, 30]]},
    ]}]}
    t, p, two = userdata.load(_write(tmp_path / "d.json", doc)).images[0].objects
    for obj, poly in ((t, triangle), (p, pentagon)):
        area = _shoelace(poly)
        # PIL alone, filling the outline too, would add about half the perimeter.
        assert abs(obj.mask.sum() - area) <= 0.15 * _perimeter(poly)
    assert two.mask.sum() == 200 and two.mask[0, 0] and two.mask[29, 39] and not two.mask[15, 20]


# --- bad entries ----------------------------------------------------------------------------------

def _obj(i, j):
    return lambda d: d["images"][i]["objects"][j]


BAD_SEED_ENTRIES = {
    # name: (mutation, where, kind, (images, objects) left of the 2 images and 5 objects)
    "image missing": (lambda d: d["images"][1].update(image_path="images/nope.png"), "images[1]", "image_missing", (1, 3)),
    "image unreadable": (lambda d: d["images"][1].update(image_path="images/garbage.png"), "images[1]", "image_unreadable", (1, 3)),
    "stated size differs": (lambda d: d["images"][0].update(width=W + 1), "images[0]", "image_size_mismatch", (1, 2)),
    "missing image_path": (lambda d: d["images"][0].pop("image_path"), "images[0]", "bad_record", (1, 2)),
    "duplicate image": (lambda d: d["images"][1].update(image_path="images/a.png"), "images[1]", "duplicate_image", (1, 3)),
    "objects not a list": (lambda d: d["images"][1].update(objects="none"), "images[1]", "bad_record", (1, 3)),
    "bbox three numbers": (lambda d: _obj(0, 1)(d).update(bbox=[1, 2, 3]), "images[0].objects[1]", "bad_bbox", (2, 4)),
    "bbox with a string": (lambda d: _obj(0, 1)(d).update(bbox=["1", 2, 3, 4]), "images[0].objects[1]", "bad_bbox", (2, 4)),
    "bbox with NaN": (lambda d: _obj(0, 1)(d).update(bbox=[1, 2, math.nan, 4]), "images[0].objects[1]", "bad_bbox", (2, 4)),
    "bbox with infinity": (lambda d: _obj(0, 1)(d).update(bbox=[1, 2, math.inf, 4]), "images[0].objects[1]", "bad_bbox", (2, 4)),
    "bbox x2 <= x1": (lambda d: _obj(0, 0)(d).update(bbox=[12, 3, 12, 9]), "images[0].objects[0]", "degenerate_bbox", (2, 4)),
    "bbox y2 <= y1": (lambda d: _obj(1, 1)(d).update(bbox=[20, 9, 35, 2]), "images[1].objects[1]", "degenerate_bbox", (2, 4)),
    "bbox outside": (lambda d: _obj(1, 1)(d).update(bbox=[W + 5, 2, W + 9, 20]), "images[1].objects[1]", "bbox_outside", (2, 4)),
    "bbox past the edge": (lambda d: _obj(1, 1)(d).update(bbox=[20, 2, W + 2, 20]), "images[1].objects[1]", "bbox_past_edge", (2, 4)),
    "bbox before the edge": (lambda d: _obj(1, 1)(d).update(bbox=[-1.5, 2, 35, 20]), "images[1].objects[1]", "bbox_past_edge", (2, 4)),
    "blank description": (lambda d: _obj(0, 2)(d).update(description="  "), "images[0].objects[2]", "empty_description", (2, 4)),
    "missing description": (lambda d: _obj(0, 2)(d).pop("description"), "images[0].objects[2]", "empty_description", (2, 4)),
    "object not an object": (lambda d: d["images"][0]["objects"].__setitem__(2, [1, 2]), "images[0].objects[2]", "bad_record", (2, 4)),
    "mask size differs": (lambda d: _obj(0, 0)(d)["mask"].update(size=[H + 1, W]), "images[0].objects[0]", "mask_size_mismatch", (2, 4)),
    "empty mask": (lambda d: _obj(0, 0)(d).update(mask=rle.encode(np.zeros((H, W), bool))), "images[0].objects[0]", "empty_mask", (2, 4)),
    "RLE counts sum wrong": (lambda d: _obj(0, 0)(d)["mask"].update(counts=[5, 5]), "images[0].objects[0]", "bad_mask", (2, 4)),
    "RLE negative count": (lambda d: _obj(0, 0)(d)["mask"].update(counts=[H * W + 5, -5]), "images[0].objects[0]", "bad_mask", (2, 4)),
    "compressed RLE bad character": (lambda d: _obj(0, 1)(d)["mask"].update(counts="0~"), "images[0].objects[1]", "bad_mask", (2, 4)),
    "polygon of two points": (lambda d: _obj(1, 0)(d).update(mask=[[5, 5, 15, 5]]), "images[1].objects[0]", "bad_mask", (2, 4)),
    "mask of the wrong type": (lambda d: _obj(1, 0)(d).update(mask="abc"), "images[1].objects[0]", "bad_mask", (2, 4)),
}


@pytest.fixture()
def bad_seed(seed):
    (seed.parent / "images" / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")

    def make(mutate):
        doc = _seed_doc()
        mutate(doc)
        return _write(seed, doc)

    return make


@pytest.mark.parametrize("case", BAD_SEED_ENTRIES.values(), ids=BAD_SEED_ENTRIES.keys())
def test_bad_seed_entry_is_reported_and_skipped(bad_seed, case):
    mutate, where, kind, left = case
    loaded = userdata.load(bad_seed(mutate))
    assert [(p.where, p.kind) for p in loaded.problems] == [(f"dataset.json: {where}", kind)]
    assert (len(loaded.images), _n_objects(loaded)) == left


@pytest.mark.parametrize("case", BAD_SEED_ENTRIES.values(), ids=BAD_SEED_ENTRIES.keys())
def test_bad_seed_entry_fails_naming_the_entry(bad_seed, case):
    mutate, where, _, _ = case
    with pytest.raises(DatasetError, match="^" + re.escape(f"dataset.json: {where}: ")):
        userdata.load(bad_seed(mutate), on_bad="fail")


def test_box_within_a_pixel_of_the_edge_is_clipped(bad_seed):
    loaded = userdata.load(bad_seed(lambda d: _obj(1, 1)(d).update(bbox=[-0.8, 2, W + 1, 20])))
    assert loaded.problems == []
    assert loaded.images[1].objects[1].bbox == (0.0, 2.0, float(W), 20.0)


def test_image_with_every_object_skipped_is_dropped_and_reported(bad_seed):
    def mutate(d):
        for o in d["images"][1]["objects"]:
            o["description"] = ""

    loaded = userdata.load(bad_seed(mutate))
    assert [(p.where, p.kind) for p in loaded.problems] == [
        ("dataset.json: images[1].objects[0]", "empty_description"),
        ("dataset.json: images[1].objects[1]", "empty_description"),
        ("dataset.json: images[1]", "no_objects_left"),
    ]
    assert [im.key for im in loaded.images] == ["images/a.png"]


def test_image_without_objects_is_counted_not_reported(bad_seed):
    loaded = userdata.load(bad_seed(lambda d: d["images"][1].update(objects=[])))
    assert loaded.problems == [] and loaded.skipped_unlabelled == 1
    assert [im.key for im in loaded.images] == ["images/a.png"]


@pytest.mark.parametrize(
    "text",
    ["not json {", "[1, 2]", '{"things": []}', '{"images": 3}', '{"images": [], "annotations": [], "categories": 5}'],
)
@pytest.mark.parametrize("on_bad", ["skip", "fail"])
def test_top_level_format_errors_raise_whatever_on_bad(tmp_path, text, on_bad):
    path = tmp_path / "d.json"
    path.write_text(text)
    with pytest.raises(DatasetError, match="d.json"):
        userdata.load(path, on_bad=on_bad)


def test_bad_arguments_are_rejected(seed):
    with pytest.raises(ValueError, match="on_bad"):
        userdata.load(seed, on_bad="ignore")
    with pytest.raises(ValueError, match="template"):
        userdata.load(seed, template="a photo of a {name}")
    with pytest.raises(DatasetError, match="not COCO"):
        userdata.load_coco(seed)


# --- COCO -----------------------------------------------------------------------------------------

def _coco_doc():
    square = rle.encode(_rect_mask(10, 10, 20, 20))
    return {
        "images": [
            {"id": 7, "file_name": "000007.png", "width": W, "height": H},
            {"id": 8, "file_name": "000008.png", "width": W, "height": H},
            {"id": 9, "file_name": "000009.png", "width": W, "height": H},  # no annotations
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "traffic light"}],
        "annotations": [
            {"id": 100, "image_id": 7, "category_id": 1, "bbox": [2, 3, 10, 6], "iscrowd": 0,
             "segmentation": [[2, 3, 12, 3, 12, 9, 2, 9]]},
            {"id": 101, "image_id": 7, "category_id": 3, "bbox": [10, 10, 10, 10], "iscrowd": 0,
             "segmentation": {"size": square["size"], "counts": userdata.rle_to_string(square["counts"])}},
            {"id": 102, "image_id": 8, "category_id": 3, "bbox": [0, 0, 40, 30], "iscrowd": 1,
             "segmentation": rle.encode(_rect_mask(0, 0, 40, 30))},
            {"id": 103, "image_id": 8, "category_id": 1, "bbox": [20.5, 1.5, 9.5, 8], "iscrowd": 0, "segmentation": []},
        ],
    }


@pytest.fixture()
def coco(tmp_path):
    for name in ("000007.png", "000008.png", "000009.png"):
        _png(tmp_path / "train" / name)
    (tmp_path / "annotations").mkdir()
    return _write(tmp_path / "annotations" / "instances_train.json", _coco_doc())


def test_coco_instances_load(coco):
    loaded = userdata.load(coco, images_dir=coco.parent.parent / "train")
    assert loaded.problems == []
    assert loaded.skipped_crowd == 1 and loaded.skipped_unlabelled == 1
    a, b = loaded.images
    assert (a.key, b.key) == ("000007.png", "000008.png")
    assert a.image_path == (coco.parent.parent / "train" / "000007.png").resolve()
    assert [o.bbox for o in a.objects] == [(2.0, 3.0, 12.0, 9.0), (10.0, 10.0, 20.0, 20.0)]
    assert [o.description for o in a.objects] == ["a photo of a cat", "a photo of a traffic light"]
    np.testing.assert_array_equal(a.objects[0].mask, _rect_mask(2, 3, 12, 9))
    np.testing.assert_array_equal(a.objects[1].mask, _rect_mask(10, 10, 20, 20))
    assert b.objects[0].bbox == (20.5, 1.5, 30.0, 9.5) and b.objects[0].mask is None
    assert loaded.vocabulary() == ["a photo of a cat", "a photo of a traffic light"]


def test_coco_template_and_default_images_dir(coco):
    for name in ("000007.png", "000008.png"):
        _png(coco.parent / name)
    loaded = userdata.load_coco(coco, template="{}")
    assert loaded.problems == [] and loaded.vocabulary() == ["cat", "traffic light"]
    assert loaded.images[0].image_path == (coco.parent / "000007.png").resolve()


BAD_COCO_ENTRIES = {
    # name: (mutation, where, kind, (images, objects) left of the 2 labelled images and 3 objects)
    "unknown category": (lambda d: d["annotations"][1].update(category_id=2), "annotations[1] (id 101)", "unknown_category", (2, 2)),
    "unknown image id": (lambda d: d["annotations"][3].update(image_id=99), "annotations[3] (id 103)", "unknown_image", (1, 2)),
    "bbox not positive": (lambda d: d["annotations"][0].update(bbox=[2, 3, 0, 6]), "annotations[0] (id 100)", "degenerate_bbox", (2, 2)),
    "bbox past the edge": (lambda d: d["annotations"][0].update(bbox=[35, 3, 10, 6]), "annotations[0] (id 100)", "bbox_past_edge", (2, 2)),
    "empty category name": (lambda d: d["categories"][1].update(name=" "), "annotations[1] (id 101)", "empty_description", (2, 2)),
    "stated size differs": (lambda d: d["images"][0].update(width=H, height=W), "images[0] (id 7)", "image_size_mismatch", (1, 1)),
    "image file missing": (lambda d: d["images"][1].update(file_name="gone.png"), "images[1] (id 8)", "image_missing", (1, 2)),
    "duplicate image id": (lambda d: d["images"][2].update(id=7), "images[2] (id 7)", "duplicate_image", (2, 3)),
    "RLE of another size": (lambda d: d["annotations"][1]["segmentation"].update(size=[H, W + 2]), "annotations[1] (id 101)", "mask_size_mismatch", (2, 2)),
}


@pytest.mark.parametrize("case", BAD_COCO_ENTRIES.values(), ids=BAD_COCO_ENTRIES.keys())
def test_bad_coco_entry_is_reported_and_skipped(coco, case):
    mutate, where, kind, left = case
    doc = _coco_doc()
    mutate(doc)
    loaded = userdata.load(_write(coco, doc), images_dir=coco.parent.parent / "train")
    assert [(p.where, p.kind) for p in loaded.problems] == [(f"instances_train.json: {where}", kind)]
    assert (len(loaded.images), _n_objects(loaded)) == left


@pytest.mark.parametrize("case", BAD_COCO_ENTRIES.values(), ids=BAD_COCO_ENTRIES.keys())
def test_bad_coco_entry_fails_naming_the_entry(coco, case):
    mutate, where, _, _ = case
    doc = _coco_doc()
    mutate(doc)
    with pytest.raises(DatasetError, match="^" + re.escape(f"instances_train.json: {where}: ")):
        userdata.load(_write(coco, doc), on_bad="fail", images_dir=coco.parent.parent / "train")


def test_crowd_regions_are_counted_not_reported_even_in_fail_mode(coco):
    loaded = userdata.load(coco, on_bad="fail", images_dir=coco.parent.parent / "train")
    assert loaded.skipped_crowd == 1
    assert all(o.bbox != (0.0, 0.0, 40.0, 30.0) for im in loaded.images for o in im.objects)


# --- split and report -----------------------------------------------------------------------------

def _images(n):
    return [userdata.UserImage(f"img/{i:04d}.jpg", Path(f"/{i}.jpg"), 8, 8, ()) for i in range(n)]


def _keys(images):
    return [im.key for im in images]


def test_split_is_deterministic_disjoint_and_complete():
    images = _images(200)
    train, test = userdata.split_by_image(images, 0.25, seed=5)
    again = userdata.split_by_image(list(reversed(images)), 0.25, seed=5)
    assert (_keys(train), _keys(test)) == (_keys(again[0]), _keys(again[1]))
    assert not set(_keys(train)) & set(_keys(test))
    assert sorted(_keys(train) + _keys(test)) == _keys(images)
    assert 30 <= len(test) <= 70
    other = userdata.split_by_image(images, 0.25, seed=6)
    assert _keys(other[1]) != _keys(test)


def test_split_keeps_test_images_in_test_as_the_dataset_grows():
    _, test_small = userdata.split_by_image(_images(100), 0.2, seed=1)
    _, test_large = userdata.split_by_image(_images(300), 0.2, seed=1)
    assert set(_keys(test_small)) <= set(_keys(test_large))


@pytest.mark.parametrize("fraction", [0.001, 0.999])
def test_split_of_two_images_has_both_sides(fraction):
    train, test = userdata.split_by_image(_images(2), fraction, seed=0)
    assert len(train) == 1 and len(test) == 1


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, math.nan])
def test_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        userdata.split_by_image(_images(10), fraction, seed=0)


def test_split_rejects_duplicate_keys():
    with pytest.raises(ValueError, match="unique"):
        userdata.split_by_image(_images(3) + _images(1), 0.5, seed=0)


def test_report_counts_by_kind_and_lists_the_first_entries(bad_seed):
    def mutate(d):
        d["images"][0]["objects"] = [{"bbox": [1, 1, 2], "description": "x"}] * 25 + [{"bbox": [0, 0, 5, 5], "description": ""}]

    loaded = userdata.load(bad_seed(mutate))
    text = userdata.report(loaded)
    assert re.search(r"^\s+25\s+bad_bbox$", text, re.M)
    assert re.search(r"^\s+1\s+empty_description$", text, re.M)
    assert re.search(r"^\s+1\s+no_objects_left$", text, re.M)
    assert "dataset.json: images[0].objects[19]: bbox must be 4 finite numbers" in text
    assert "images[0].objects[20]" not in text
    assert "... and 7 more" in text
    assert userdata.report(userdata.load(bad_seed(lambda d: None))).endswith("no problems")


def test_exif_rotated_images_are_sized_and_read_as_displayed(tmp_path):
    """Boxes are in the orientation the pipeline sees: its decoder applies EXIF orientation."""
    from ogclip_factory.user_features import rgb

    pixels = np.zeros((20, 40, 3), np.uint8)  # stored 40 wide, 20 high
    pixels[:, :5] = 255  # a white band on the stored image's left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / "r.jpg", exif=exif, quality=95)
    _write(tmp_path / "d.json", {"images": [{"image_path": "r.jpg", "objects": [{"bbox": [2, 30, 18, 39], "description": "x"}]}]})
    loaded = userdata.load(tmp_path / "d.json", on_bad="fail")
    assert (loaded.images[0].width, loaded.images[0].height) == (20, 40)
    shown = rgb(tmp_path / "r.jpg")
    assert shown.shape == (40, 20, 3)
    assert shown[:5].mean() > 200 and shown[10:].mean() < 60  # the band is now on top


def test_one_file_listed_under_two_spellings_is_a_duplicate(tmp_path):
    _png(tmp_path / "a.png")
    obj = {"bbox": [1, 1, 5, 5], "description": "x"}
    _write(tmp_path / "d.json", {"images": [{"image_path": "a.png", "objects": [obj]}, {"image_path": "./a.png", "objects": [obj]}]})
    loaded = userdata.load(tmp_path / "d.json")
    assert len(loaded.images) == 1
    assert [p.kind for p in loaded.problems] == ["duplicate_image"]
