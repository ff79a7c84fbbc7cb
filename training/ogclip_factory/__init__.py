"""ogclip model factory: synthetic scenes, training, evaluation and ONNX export."""
