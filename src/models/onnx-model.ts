import { access } from 'node:fs/promises';
import { ModelFormatError } from '../errors.js';
import type { TensorMeta } from './inference-protocol.js';
import type { RemoteSession, TensorHandle } from './inference-client.js';
import type { InferenceRuntime } from './inference-runtime.js';
import type { BatchShapes } from './batch-shapes.js';
import type { SessionOptions } from './session-options.js';
import type { Outputs, RunFeeds } from './tensor.js';

/**
 * Expected tensor: null dims are free (dynamic axes or sizes the bundle declares). A float32
 * tensor may be float16 in the file (an fp16 export): the worker converts at the boundary.
 */
export interface TensorSpec {
  readonly name: string;
  readonly type: 'float32' | 'int64';
  readonly shape: readonly (number | null)[];
}

export interface ModelSpec {
  readonly format: string; // named in error messages, e.g. "SAM2 onnx-community prompt decoder"
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Known inputs a file may lack; the adapter feeds them only when the file has them. */
  readonly optionalInputs?: readonly string[];
  /** Known outputs a file may lack; `run()` asks only for those the file has. */
  readonly optionalOutputs?: readonly string[];
}

/** A choice of spec made from the file's inputs once it is loaded (e.g. split tower vs joint model). */
export interface SpecChoice {
  readonly format: string; // what any of the choices is, for errors before the file is read
  choose(inputs: readonly TensorMeta[]): ModelSpec;
}

export type SpecFor = ModelSpec | SpecChoice;

function isChoice(s: SpecFor): s is SpecChoice {
  return 'choose' in s;
}

/** An onnxruntime session whose inputs and outputs were checked against a spec at load. */
export class OnnxModel {
  private constructor(
    readonly path: string,
    readonly spec: ModelSpec,
    readonly inputs: readonly TensorMeta[],
    readonly outputs: readonly TensorMeta[],
    private readonly session: RemoteSession,
    /** How the adapters size this session's calls (the runtime's `batchShapes`). */
    readonly batchShapes: BatchShapes,
    private readonly runtime: InferenceRuntime,
  ) {}

  static async open(worker: InferenceRuntime, path: string, specFor: SpecFor, options: SessionOptions): Promise<OnnxModel> {
    const expected = specFor.format;
    try {
      await access(path);
    } catch {
      throw new ModelFormatError(`${path}: file not found (expected a ${expected})`);
    }
    let session: RemoteSession;
    try {
      session = await worker.load(path, options);
    } catch (err) {
      throw new ModelFormatError(`${path}: onnxruntime could not load it as a ${expected}: ${(err as Error).message}`);
    }
    const spec = isChoice(specFor) ? specFor.choose(session.inputs) : specFor;
    const problems = checkSpec(spec, session.inputs, session.outputs);
    if (problems.length > 0) {
      await session.release();
      throw new ModelFormatError(`${path}: not a ${spec.format}: ${problems.join('; ')}`);
    }
    return new OnnxModel(path, spec, session.inputs, session.outputs, session, options.batchShapes, worker);
  }

  hasInput(name: string): boolean {
    return this.inputs.some((i) => i.name === name);
  }

  hasOutput(name: string): boolean {
    return this.outputs.some((o) => o.name === name);
  }

  /** A fixed dim of an input or output as the file declares it, or undefined when dynamic. */
  dim(name: string, axis: number): number | undefined {
    const m = [...this.inputs, ...this.outputs].find((t) => t.name === name);
    const d = m?.shape[axis];
    return typeof d === 'number' && d > 0 ? d : undefined;
  }

  /** Feeds are values, or `handle.feed(name)` references to outputs kept in the worker. */
  run(
    feeds: RunFeeds,
    outputs: readonly string[] = this.spec.outputs.map((o) => o.name).filter((n) => this.hasOutput(n)),
  ): Promise<Outputs> {
    return this.session.run(feeds, outputs);
  }

  /**
   * Runs and keeps the outputs `keep` in the inference worker under one handle, for later runs
   * to be fed by reference (nothing is sent back). Drop the handle when done. The feeds are
   * remembered while it lives (to make it again if the worker restarts): do not change them.
   */
  async runKeeping(feeds: RunFeeds, keep: readonly string[]): Promise<TensorHandle> {
    const [handle] = await this.session.runKeeping(feeds, keep);
    return handle!;
  }

  /** As runKeeping, for a batch of `items` on axis 0: one handle per item, each dropped on its own. */
  runKeepingPerItem(feeds: RunFeeds, keep: readonly string[], items: number): Promise<TensorHandle[]> {
    return this.session.runKeeping(feeds, keep, items);
  }

  /** Gives output arrays the caller is done with back to the runtime (`InferenceRuntime.recycle`). */
  recycle(arrays: readonly ArrayBufferView[]): void {
    this.runtime.recycle(arrays);
  }

  dispose(): Promise<void> {
    return this.session.release();
  }
}

export function checkSpec(spec: ModelSpec, inputs: readonly TensorMeta[], outputs: readonly TensorMeta[]): string[] {
  const problems: string[] = [];
  const optional = { input: new Set(spec.optionalInputs ?? []), output: new Set(spec.optionalOutputs ?? []) };
  const check = (kind: 'input' | 'output', want: TensorSpec, have: readonly TensorMeta[]) => {
    const got = have.find((h) => h.name === want.name);
    if (!got) {
      if (optional[kind].has(want.name)) return;
      problems.push(`missing ${kind} "${want.name}" (file has ${have.map((h) => h.name).join(', ') || 'none'})`);
      return;
    }
    const halfForFloat = want.type === 'float32' && got.type === 'float16';
    if (got.type !== want.type && !halfForFloat) problems.push(`${kind} "${want.name}" is ${got.type}, expected ${want.type}`);
    if (got.shape.length !== want.shape.length) {
      problems.push(`${kind} "${want.name}" has rank ${got.shape.length} [${got.shape.join(',')}], expected rank ${want.shape.length}`);
      return;
    }
    want.shape.forEach((w, i) => {
      const g = got.shape[i];
      if (w !== null && typeof g === 'number' && g > 0 && g !== w) {
        problems.push(`${kind} "${want.name}" dim ${i} is ${g}, expected ${w}`);
      }
    });
  };
  for (const i of spec.inputs) check('input', i, inputs);
  for (const o of spec.outputs) check('output', o, outputs);
  for (const i of inputs) {
    if (!spec.inputs.some((s) => s.name === i.name)) problems.push(`unexpected input "${i.name}" that the adapter cannot feed`);
  }
  return problems;
}
