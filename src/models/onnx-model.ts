import { access } from 'node:fs/promises';
import { ModelFormatError } from '../errors.js';
import type { TensorMeta } from './inference-host.js';
import type { InferenceWorker, RemoteSession } from './inference-worker.js';
import type { SessionOptions } from './session-options.js';
import type { Feeds, Outputs } from './tensor.js';

/** Expected tensor: null dims are free (dynamic axes or sizes the bundle declares). */
export interface TensorSpec {
  readonly name: string;
  readonly type: 'float32' | 'int64';
  readonly shape: readonly (number | null)[];
}

export interface ModelSpec {
  readonly format: string; // named in error messages, e.g. "SAM2 onnx-community prompt decoder"
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly optionalInputs?: readonly string[];
}

/** An onnxruntime session whose inputs and outputs were checked against a spec at load. */
export class OnnxModel {
  private constructor(
    readonly path: string,
    readonly spec: ModelSpec,
    readonly inputs: readonly TensorMeta[],
    readonly outputs: readonly TensorMeta[],
    private readonly session: RemoteSession,
  ) {}

  static async open(worker: InferenceWorker, path: string, spec: ModelSpec, options: SessionOptions): Promise<OnnxModel> {
    try {
      await access(path);
    } catch {
      throw new ModelFormatError(`${path}: file not found (expected a ${spec.format})`);
    }
    let session: RemoteSession;
    try {
      session = await worker.load(path, options);
    } catch (err) {
      throw new ModelFormatError(`${path}: onnxruntime could not load it as a ${spec.format}: ${(err as Error).message}`);
    }
    const problems = checkSpec(spec, session.inputs, session.outputs);
    if (problems.length > 0) {
      await session.release();
      throw new ModelFormatError(`${path}: not a ${spec.format}: ${problems.join('; ')}`);
    }
    return new OnnxModel(path, spec, session.inputs, session.outputs, session);
  }

  hasInput(name: string): boolean {
    return this.inputs.some((i) => i.name === name);
  }

  /** A fixed dim of an input or output as the file declares it, or undefined when dynamic. */
  dim(name: string, axis: number): number | undefined {
    const m = [...this.inputs, ...this.outputs].find((t) => t.name === name);
    const d = m?.shape[axis];
    return typeof d === 'number' && d > 0 ? d : undefined;
  }

  run(feeds: Feeds, outputs: readonly string[] = this.spec.outputs.map((o) => o.name)): Promise<Outputs> {
    return this.session.run(feeds, outputs);
  }

  dispose(): Promise<void> {
    return this.session.release();
  }
}

export function checkSpec(spec: ModelSpec, inputs: readonly TensorMeta[], outputs: readonly TensorMeta[]): string[] {
  const problems: string[] = [];
  const optional = new Set(spec.optionalInputs ?? []);
  const check = (kind: 'input' | 'output', want: TensorSpec, have: readonly TensorMeta[]) => {
    const got = have.find((h) => h.name === want.name);
    if (!got) {
      if (kind === 'input' && optional.has(want.name)) return;
      problems.push(`missing ${kind} "${want.name}" (file has ${have.map((h) => h.name).join(', ') || 'none'})`);
      return;
    }
    if (got.type !== want.type) problems.push(`${kind} "${want.name}" is ${got.type}, expected ${want.type}`);
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
