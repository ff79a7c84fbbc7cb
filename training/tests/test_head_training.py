import math

import numpy as np
import pytest
import torch

from ogclip_factory import scenes, train_clip, train_head
from ogclip_factory.features import ObjectInputs
from ogclip_factory.head import ObjectGuidedHead
from ogclip_factory.losses import bidirectional_infonce, hard_negative_margin


def _data(labels: list[int]) -> train_head.HeadData:
    g = torch.Generator().manual_seed(0)
    n = len(labels)
    x = ObjectInputs(torch.randn(n, 3, 64, 64, generator=g), torch.rand(n, 1, 64, 64, generator=g),
                     torch.randn(n, 128, generator=g), torch.zeros(n, 64), torch.zeros(n, 64))
    return train_head.HeadData([x], torch.tensor(labels), np.arange(n) // 2)


def test_temperature_starts_at_0_07_and_is_learned():
    head = ObjectGuidedHead(128)
    assert head.logit_scale.requires_grad
    assert math.isclose(float(head.logit_scale.detach().exp()), 1 / 0.07, rel_tol=1e-3)
    text = torch.randn(60, 64, generator=torch.Generator().manual_seed(1))
    step = train_head.make_step(head, text, _data([0, 1, 2, 3, 4, 5]), batch=6, hard_weight=0.5)
    step(np.random.default_rng(0)).backward()
    assert head.logit_scale.grad is not None and float(head.logit_scale.grad.abs()) > 0


def test_temperature_is_capped_at_100():
    g = torch.Generator().manual_seed(0)
    img, txt, labels = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g), torch.arange(4)
    at_cap = bidirectional_infonce(img, txt, labels, torch.tensor(math.log(100.0)))
    beyond = bidirectional_infonce(img, txt, labels, torch.tensor(math.log(100.0) + 3))
    below = bidirectional_infonce(img, txt, labels, torch.tensor(math.log(50.0)))
    assert torch.allclose(at_cap, beyond) and not torch.allclose(at_cap, below)


def test_hard_negative_is_the_closest_caption_one_attribute_away():
    hard = train_head.hard_pairs()
    text = torch.eye(60)
    # The image sits between its own caption (0) and caption 1 (one shape away): margin violated.
    image = (text[0] + 0.9 * text[1])[None]
    loss = hard_negative_margin(image, text, torch.tensor([0]), hard, margin=0.1)
    cos = torch.nn.functional.normalize(image, dim=-1)[0]
    assert float(loss) == pytest.approx(0.1 - float(cos[0] - cos[1]), abs=1e-6)
    # Caption 59 differs in all three attributes: never a hard negative, however close.
    far = (text[0] + 0.99 * text[59])[None]
    assert float(hard_negative_margin(far, text, torch.tensor([0]), hard)) == 0.0


def test_head_loss_includes_the_hard_negative_term():
    torch.manual_seed(0)
    head = ObjectGuidedHead(128)
    text = torch.randn(60, 64, generator=torch.Generator().manual_seed(1))
    data = _data([0, 1, 5, 6, 30, 31])  # pairs one attribute apart
    with_hard = train_head.make_step(head, text, data, batch=6, hard_weight=1.0)(np.random.default_rng(0))
    without = train_head.make_step(head, text, data, batch=6, hard_weight=0.0)(np.random.default_rng(0))
    assert float(with_hard) > float(without)


def test_head_trains_only_on_its_classes():
    seen = scenes.seen_combos()
    text = torch.randn(len(seen), 64)
    held_label = scenes.combos().index(scenes.held_out_combos()[0])
    with pytest.raises(ValueError, match="outside `classes`"):
        train_head.make_step(ObjectGuidedHead(128), text, _data([0, held_label]), batch=2, hard_weight=0.5, classes=seen)
    with pytest.raises(ValueError, match="rows for"):
        train_head.make_step(ObjectGuidedHead(128), torch.randn(60, 64), _data([0, 1]), batch=2, hard_weight=0.5, classes=seen)


def test_zero_shot_clip_never_reads_a_held_out_or_fully_paraphrased_caption():
    asked: list[str] = []

    def tokenizer(texts: list[str]) -> torch.Tensor:
        asked.extend(texts)
        return torch.zeros(len(texts), 77, dtype=torch.int64)

    from ogclip_factory.clip import TinyClip

    seen = scenes.seen_combos()
    labels = torch.tensor([scenes.combos().index(c) for c in seen[:4]])
    train_clip.make_step(TinyClip(), tokenizer, torch.zeros(4, 3, 64, 64), labels, 2, classes=seen, wordings=scenes.TRAIN_WORDINGS)
    held = {scenes.describe(*c, w) for c in scenes.held_out_combos() for w in (*scenes.TRAIN_WORDINGS, scenes.PARAPHRASED)}
    paraphrased = {scenes.describe(*c, scenes.PARAPHRASED) for c in scenes.combos()}
    assert asked and not set(asked) & held and not set(asked) & paraphrased
    assert "a tiny red circle" not in asked and "a tiny red square" in asked  # partial paraphrases do train
    held_image = torch.tensor([scenes.combos().index(scenes.held_out_combos()[0])])
    with pytest.raises(ValueError, match="outside `classes`"):
        train_clip.make_step(TinyClip(), tokenizer, torch.zeros(1, 3, 64, 64), held_image, 1, classes=seen)
