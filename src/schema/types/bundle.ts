// Generated from schemas/bundle.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * @minItems 3
 * @maxItems 3
 */
export type Rgb = readonly [number, number, number];
/**
 * Which variant of the section's ONNX files to load. The paths in bundle.json always name the fp32 files; "fp16" loads <stem>_fp16.onnx and "quantized" loads <stem>_quantized.onnx from beside each named <stem>.onnx (the names public exports use). fp16 files may take and give float16 tensors; the pipeline converts at the session boundary. An external weights file (<name>.onnx_data) beside any of them is found by onnxruntime.
 */
export type Dtype = 'fp32' | 'fp16' | 'quantized';
export type CropContext = 'masked' | 'kept';

/**
 * A folder of ONNX files the pipeline loads. sam2 and clip are required; head is optional (without it only the training-free crop embedder is available).
 */
export interface BundleManifest {
  name: string;
  version: string;
  format: 1;
  sam2: {
    format: 'onnx-community' | 'samexporter';
    encoder: string;
    decoder: string;
    input_size: number;
    mean?: Rgb;
    std?: Rgb;
    dtype: Dtype;
  };
  clip: {
    format: 'xenova';
    vision: string;
    text: string;
    tokenizer: string;
    tokenizer_config?: string;
    image_size: number;
    mean?: Rgb;
    std?: Rgb;
    context_length: number;
    logit_scale?: number;
    dtype: Dtype;
  };
  head?: {
    object_branch: string;
    mask_branch: string;
    fusion: string;
    projection: string;
    object_size: number;
    mask_size: number;
    crop_margin: number;
    crop_pad: number;
    /**
     * The object branch's crops, as multiples of the crop window (crop_margin times each scale), stacked on the channel axis: object_pixels [B,3*K,R,R]. The seed's multi-scale object processing is [0.5, 1, 2].
     *
     * @minItems 1
     */
    object_scales: number[];
    logit_scale?: number;
    dtype: Dtype;
  };
  /**
   * Framing of the training-free crop embedder (src/masks/crop.ts CropSpec); absent: the head's crop (object window, crop_margin, crop_pad, masked), else object window, margin 1.25, pad 4, masked. window "object": side = ceil(longer mask-box side * margin) + pad (absolute size is lost); window "fixed": side = floor(side_fraction * longer frame side + 0.5) (absolute size survives). Centred on the mask box. context "masked": pixels outside the mask are 0; "kept": the frame inside the window is kept.
   */
  crop_baseline?:
    | {
        window: 'object';
        margin: number;
        pad: number;
        context: CropContext;
      }
    | {
        window: 'fixed';
        side_fraction: number;
        context: CropContext;
      };
  embedding_dim?: number;
  labels: string[];
  /**
   * figures from the factory's evaluation, shown by ogclip and kept for the record
   */
  metrics?: {
    [k: string]: unknown;
  };
}
