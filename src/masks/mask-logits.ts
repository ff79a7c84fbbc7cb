// Lives with the masks, not the models: post-processing reads it, and every SAM2 format produces it.
/** Decoder output for P prompts: low-resolution logits and scores, best-first per prompt. */
export interface MaskLogits {
  readonly maskSize: number; // m: logits are [P,3,m,m]
  readonly logits: Float32Array; // [P,K,m,m], K masks per prompt (3)
  readonly masksPerPrompt: number;
  readonly iou: Float32Array; // [P,K]
  readonly objectScore: Float32Array; // [P] logits; +Infinity when the format has none
}
