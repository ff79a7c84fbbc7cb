import onnx
import torch

from ogclip_factory import export
from ogclip_factory.clip import TinyClip
from ogclip_factory.head import ObjectGuidedHead
from ogclip_factory.segmenter import SegDecoder, Segmenter


def test_first_layer_is_the_convolution_of_features_beside_prompt_maps():
    # The decoder computes head[0] in two parts (features once per image, maps per prompt); it must
    # stay the function the layer is: one convolution over the concatenation, per prompt.
    torch.manual_seed(0)
    dec = SegDecoder().eval()
    b, p, h, w = 2, 5, 16, 16
    feats = torch.randn(b, dec.merge.out_channels, h, w)
    maps = [torch.randn(b, p, h, w) for _ in range(4)]
    with torch.no_grad():
        got = dec.first_layer(feats, maps)
        concat = torch.cat([feats[:, None].expand(-1, p, -1, -1, -1), torch.stack(maps, 2)], 2).flatten(0, 1)
        want = dec.head[0](concat)
    assert got.shape == want.shape == (b * p, dec.head[0].out_channels, h, w)
    assert torch.allclose(got, want, atol=1e-5)


def test_exported_decoder_convolutions_have_constant_weights(tmp_path):
    # onnxruntime lays out a convolution in its fast blocked (NCHWc) form only when the weight is
    # an initializer; a weight computed in the graph (slices of head[0] traced from shapes) left
    # the per-prompt convolution on the slow path.
    torch.manual_seed(0)
    export.export_parts(Segmenter().eval(), TinyClip().eval(), ObjectGuidedHead(128).eval(), tmp_path)
    model = onnx.load(str(tmp_path / "sam2" / "prompt_encoder_mask_decoder.onnx"))
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) >= 6
    computed = [n.name for n in convs if n.input[1] not in constants]
    assert computed == [], f"convolutions whose weight is computed in the graph: {computed}"
