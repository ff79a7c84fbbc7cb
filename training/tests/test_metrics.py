import numpy as np
import pytest

from ogclip_factory import features, metrics


def test_image_to_text_ties_count_against_the_query():
    # Object 0's own caption (0) ties with caption 1: rank 2, not 1. Object 1 is first outright.
    sims = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.3]], np.float32)
    r = metrics.retrieval(sims, np.array([0, 1]))
    assert r["i2t_r1"] == 0.5
    assert r["i2t_mean_rank"] == 1.5


def test_text_to_image_rank_average_precision_and_r_precision_by_hand():
    # Caption 0 describes objects 0 and 2. Scores for caption 0: o0 0.9, o1 0.8, o2 0.7, o3 0.1
    # -> relevant at positions 1 and 3: AP = (1/1 + 2/3) / 2 = 0.8333; R = 2, top 2 hold one: 0.5.
    sims = np.array([[0.9, 0.0], [0.8, 0.5], [0.7, 0.0], [0.1, 0.6]], np.float32)
    labels = np.array([0, 1, 0, 1])
    rank, ap, rp = metrics.t2i_ranking(sims[:, 0], labels == 0)
    assert (rank, round(ap, 4), rp) == (1, 0.8333, 0.5)
    r = metrics.retrieval(sims, labels)
    # Caption 1: o3 0.6 (relevant), o1 0.5 (relevant) -> AP 1, R-precision 1.
    assert r["t2i_map"] == round((0.8333333 + 1.0) / 2, 4)
    assert r["t2i_rprec"] == 0.75
    assert r["t2i_r1"] == 1.0


def test_text_to_image_ties_count_against_the_query():
    # Objects 0 (caption 1) and 1 (caption 0) share one embedding, as plain CLIP gives every
    # object of a frame: for caption 0 the non-relevant object 0 comes first whatever the order.
    sims = np.array([[0.7, 0.2], [0.7, 0.2], [0.1, 0.9]], np.float32)
    rank, ap, rp = metrics.t2i_ranking(sims[:, 0], np.array([False, True, False]))
    assert (rank, ap, rp) == (2, 0.5, 0.0)
    rank, _, _ = metrics.t2i_ranking(sims[::-1, 0].copy(), np.array([False, True, False]))
    assert rank == 2


def test_missing_objects_count_as_never_retrieved():
    # End to end: caption 0 has 2 ground-truth objects but only one was found (label -1 is a
    # mask matching no object). AP is normalised by the 2 true objects; the miss ranks last.
    sims = np.array([[0.9, 0.1], [0.3, 0.2]], np.float32)
    labels = np.array([0, -1])
    r = metrics.retrieval(sims, labels, t2i_captions=[0], truth_counts={0: 2}, missed=1)
    assert r["t2i_map"] == 0.5
    assert r["t2i_rprec"] == 0.5
    assert r["i2t_r1"] == 0.5  # the found object is right, the missed one ranks at T = 2
    assert r["i2t_mean_rank"] == 1.5


def test_queries_restricted_to_a_subset():
    sims = np.array([[0.9, 0.1], [0.9, 0.1]], np.float32)
    r = metrics.retrieval(sims, np.array([0, 1]), i2t_queries=np.array([False, True]), t2i_captions=[1])
    assert r["i2t_queries"] == 1 and r["i2t_r1"] == 0.0
    assert r["t2i_queries"] == 1 and r["t2i_r1"] == 0.0


def test_whole_frame_upper_bound():
    # Frame 0: captions 0, 0, 1 -> at most 2 of 3 first; frame 1: caption 2 alone -> 1 of 1.
    labels, frames = np.array([0, 0, 1, 2]), np.array([0, 0, 0, 1])
    b = metrics.whole_frame_bound(labels, frames)
    assert b["i2t_r1"] == 0.75
    assert b["t2i_r1"] == round(1 / 3, 4)  # only caption 2 has a frame of its own


def test_spread_over_seeds():
    s = metrics.spread([0.5, 0.7, 0.9])
    assert s["mean"] == 0.7 and s["sd"] == pytest.approx(0.2) and s["seeds"] == [0.5, 0.7, 0.9]


def test_masks_match_ground_truth_one_to_one_by_iou():
    a = np.zeros((10, 10), bool)
    a[0:5, 0:5] = True
    b = np.zeros((10, 10), bool)
    b[5:10, 5:10] = True
    almost_a = a.copy()
    almost_a[0, 0] = False
    # Both predictions overlap a; the better one takes it, b finds nothing.
    assert features.match_by_iou([almost_a, a], [a, b]) == [1, -1]


def test_halves_round_up_as_in_the_pipeline():
    assert metrics.fixed(1 / 32) == 0.0313  # round() would give 0.0312
    assert metrics.fixed(17 / 16, 3) == 1.063


def test_the_shared_case_that_the_pipeline_twin_also_checks():
    import json
    from pathlib import Path

    import torch

    case = json.loads((Path(__file__).resolve().parents[2] / "test" / "fixtures" / "retrieval-case.json").read_text())
    sims = metrics.similarities(torch.tensor(case["objects"]), torch.tensor(case["texts"]))
    got = metrics.retrieval(sims, np.array(case["labels"]))
    assert {k: got[k] for k in case["expected"]} == case["expected"]
