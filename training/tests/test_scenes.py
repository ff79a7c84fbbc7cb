import numpy as np

from ogclip_factory import rle, scenes


def test_same_seed_same_frame_bit_for_bit():
    a, b = scenes.generate(123), scenes.generate(123)
    assert np.array_equal(a.image, b.image)
    assert [o.description for o in a.objects] == [o.description for o in b.objects]
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(a.objects, b.objects))
    assert not np.array_equal(scenes.generate(124).image, a.image)


def test_masks_and_boxes_agree_and_objects_stay_visible():
    for seed in range(40):
        sc = scenes.generate(seed)
        assert 1 <= len(sc.objects) <= 5
        union = np.zeros(sc.image.shape[:2], bool)
        for o in sc.objects:
            ys, xs = np.nonzero(o.mask)
            assert o.bbox == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert not (union & o.mask).any(), "visible masks do not overlap"
            union |= o.mask
            assert o.description in scenes.vocabulary()


def test_vocabulary_covers_shapes_colours_sizes():
    v = scenes.vocabulary()
    assert len(v) == len(scenes.SHAPES) * len(scenes.COLOURS) * len(scenes.SIZES) == 60
    assert len(set(v)) == 60


def test_rle_round_trip_and_coco_layout():
    m = np.array([[1, 0, 0], [1, 1, 0]], bool)
    enc = rle.encode(m)
    assert enc == {"size": [2, 3], "counts": [0, 2, 1, 1, 2]}
    assert np.array_equal(rle.decode(enc), m)
    assert rle.area(enc) == 3
