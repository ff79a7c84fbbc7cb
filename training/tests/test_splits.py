import itertools
import json
from pathlib import Path

import pytest

from ogclip_factory import pool, scenes

ROOT = Path(__file__).resolve().parents[2]


def test_split_seed_ranges_are_disjoint():
    ranges = [range(first, first + pool.SPLIT_WIDTH) for first in pool.SPLITS.values()]
    for a, b in itertools.combinations(ranges, 2):
        assert a.stop <= b.start or b.stop <= a.start, (a, b)
    assert [pool.split_of(s) for s in (0, 1_000_000, 2_000_000, 3_000_000, 4_000_000)] == \
        ["train", "val", "single", "dev", "zero_shot"]
    with pytest.raises(ValueError, match="belongs to no split"):
        pool.split_of(9_000_000)


def test_committed_validation_split_lies_in_its_range():
    doc = json.loads((ROOT / "datasets" / "shapes-val" / "dataset.json").read_text())
    seeds = [r["seed"] for r in doc["images"]]
    assert len(set(seeds)) == len(seeds)
    assert {pool.split_of(s) for s in seeds} == {"val"}


def test_pools_cannot_overflow_their_range():
    with pytest.raises(ValueError, match="overflow"):
        pool.build(pool.DEV_SEED, pool.SPLIT_WIDTH + 1)


def test_held_out_combinations_leave_every_attribute_in_training():
    held = scenes.held_out_combos()
    assert len(held) == len(set(held)) == 12
    seen = scenes.seen_combos()
    assert not set(held) & set(seen) and len(seen) == 48
    for i in range(3):  # size, colour, shape: every value still trains in other combinations
        assert {c[i] for c in seen} == {c[i] for c in scenes.combos()}
    assert sorted(c[1] for c in held) == sorted(list(scenes.COLOURS) * 2)


def test_restricted_scenes_never_draw_a_held_out_combination():
    held = set(scenes.held_out_combos())
    drawn = set()
    for seed in range(60):
        for o in scenes.generate(seed, allowed=scenes.seen_combos()).objects:
            drawn.add((o.size, o.colour, o.shape))
    assert drawn and not drawn & held
    only = {(o.size, o.colour, o.shape) for s in range(30) for o in scenes.generate(s, allowed=scenes.held_out_combos()).objects}
    assert only <= held


def test_unrestricted_scenes_keep_the_committed_draw_order():
    # The validation split was written before `allowed` existed: its first frame must still
    # come out of the generator object for object.
    doc = json.loads((ROOT / "datasets" / "shapes-val" / "dataset.json").read_text())
    first = doc["images"][0]
    sc = scenes.generate(first["seed"])
    assert [o.description for o in sc.objects] == [o["description"] for o in first["objects"]]


def test_fully_paraphrased_captions_are_never_a_training_wording():
    assert scenes.PARAPHRASED not in scenes.TRAIN_WORDINGS
    assert len(scenes.TRAIN_WORDINGS) == 7
    assert scenes.describe("small", "red", "circle", scenes.PARAPHRASED) == "a tiny crimson disc"
    words = {w for d in scenes.vocabulary() for w in d.split()}
    assert not words & set(scenes.PARAPHRASES.values())


def test_crop_framings():
    import numpy as np
    import torch

    from ogclip_factory import preprocess

    small, large = np.zeros((100, 100), bool), np.zeros((100, 100), bool)
    small[40:50, 40:50] = True
    large[20:80, 20:80] = True
    fixed = {"window": "fixed", "side_fraction": 0.5, "context": "kept"}
    # A fixed window keeps absolute size: both objects get a 50-pixel window.
    assert preprocess.crop_window(small, fixed)[2] == preprocess.crop_window(large, fixed)[2] == 50
    assert preprocess.crop_window(small)[2] == 17  # object window: ceil(10 * 1.25) + 4
    assert preprocess.crop_window(small, {**fixed, "side_fraction": 0.001})[2] == 1
    frame = torch.ones(3, 100, 100)
    kept = preprocess.masked_crop(frame, small, 50, fixed)
    masked = preprocess.masked_crop(frame, small, 50, {**fixed, "context": "masked"})
    assert float(kept.mean()) == 1.0 and 0 < float(masked.mean()) < 0.1
