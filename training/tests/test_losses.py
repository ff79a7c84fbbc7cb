import torch

from ogclip_factory.losses import bidirectional_infonce, hard_negative_margin
from ogclip_factory.train_head import hard_pairs


def test_infonce_is_symmetric_for_one_image_per_caption():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    labels = torch.arange(6)
    scale = torch.tensor(2.0)
    # With one image per caption, swapping roles gives the same loss.
    assert torch.allclose(bidirectional_infonce(a, b, labels, scale), bidirectional_infonce(b, a, labels, scale), atol=1e-6)


def test_temperature_sharpens_matched_pairs():
    text = torch.eye(4)
    image = text + 0.1
    labels = torch.arange(4)
    cold = bidirectional_infonce(image, text, labels, torch.tensor(4.0))
    warm = bidirectional_infonce(image, text, labels, torch.tensor(0.0))
    assert cold < warm


def test_duplicate_captions_are_not_pushed_apart():
    text = torch.eye(3)
    image = torch.stack([text[0], text[0], text[1]])
    loss_dup = bidirectional_infonce(image, text, torch.tensor([0, 0, 1]), torch.tensor(3.0))
    loss_wrong = bidirectional_infonce(image, text, torch.tensor([0, 1, 1]), torch.tensor(3.0))
    assert loss_dup < loss_wrong


def test_hard_negatives_differ_in_exactly_one_attribute():
    hard = hard_pairs()
    assert hard.shape == (60, 60)
    assert not hard.diagonal().any()
    # a small red circle: 5 other colours + 4 other shapes + 1 other size
    assert int(hard[0].sum()) == 10
    text = torch.eye(60)
    perfect = hard_negative_margin(text[:3], text, torch.arange(3), hard)
    assert float(perfect) == 0.0
