import json

import pytest

from ogclip_factory import dataset


@pytest.fixture()
def split(tmp_path):
    dataset.write_split(tmp_path, first_seed=7, count=3, image_format="png")
    return tmp_path


def test_written_split_loads(split):
    entries = dataset.load(split / "dataset.json")
    assert len(entries) == 3
    assert all(len(e.bboxes) == len(e.descriptions) == len(e.masks) for e in entries)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["images"][1].update(image_path="images/nope.png"), r"images\[1\]: image 'images/nope.png' does not exist"),
        (lambda d: d["images"][0]["objects"][0].update(bbox=[10, 10, 5]), r"images\[0\]\.objects\[0\]: bbox must be"),
        (lambda d: d["images"][0]["objects"][0].update(bbox=[10, 10, 5, 20]), r"x2 > x1"),
        (lambda d: d["images"][2]["objects"][0].update(description="  "), r"images\[2\]\.objects\[0\]: description must be a non-empty string"),
        (lambda d: d["images"][0].pop("image_path"), r"images\[0\]: missing image_path"),
        (lambda d: d["images"][0]["objects"][0].update(mask={"size": [2, 2], "counts": [1]}), r"bad mask RLE"),
    ],
)
def test_bad_entries_are_rejected_naming_the_entry(split, mutate, message):
    path = split / "dataset.json"
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(dataset.DatasetError, match=message):
        dataset.load(path)
