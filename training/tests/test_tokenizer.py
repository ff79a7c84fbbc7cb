from pathlib import Path

from ogclip_factory.clip import Tokenizer

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_tokenizer_gives_reference_clip_ids():
    tok = Tokenizer(ROOT / "models" / "ogclip-shapes-tiny" / "clip" / "tokenizer.json")
    ids = tok(["a small red circle", "A Small RED circle"])
    assert ids.shape == (2, 77)
    assert ids[0, :7].tolist() == [49406, 320, 2442, 736, 7117, 49407, 49407]
    assert ids[0].tolist() == ids[1].tolist(), "lower-cased like CLIP"
