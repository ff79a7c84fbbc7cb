// Worker-thread side of InferenceWorker: owns onnxruntime sessions, because session.run()
// blocks its thread for the whole inference and the main thread must keep serving Kafka
// heartbeats and I/O.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { Feeds, Outputs, Tensor } from './tensor.js';
import type { SessionOptions } from './session-options.js';

export type HostRequest =
  | { readonly kind: 'load'; readonly id: number; readonly path: string; readonly options: SessionOptions }
  | { readonly kind: 'run'; readonly id: number; readonly session: number; readonly feeds: Feeds; readonly outputs: readonly string[] }
  | { readonly kind: 'release'; readonly id: number; readonly session: number };

export interface TensorMeta {
  readonly name: string;
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

export type HostReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly session?: number;
      readonly inputs?: TensorMeta[];
      readonly outputs?: TensorMeta[];
      readonly result?: Outputs;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };

const sessions = new Map<number, ort.InferenceSession>();
let nextSession = 1;

function meta(list: readonly ort.InferenceSession.ValueMetadata[]): TensorMeta[] {
  return list.map((m) =>
    m.isTensor ? { name: m.name, type: String(m.type), shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.type, t.data, [...t.dims]);
}

// Outputs are transferred, not copied, to the main thread; a view into a shared buffer is
// copied first so that transferring it cannot detach memory onnxruntime still uses.
function own<T extends Float32Array | BigInt64Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}

function fromOrt(t: ort.Tensor): Tensor {
  if (t.type === 'float32') return { type: 'float32', dims: [...t.dims], data: own(t.data as Float32Array) };
  if (t.type === 'int64') return { type: 'int64', dims: [...t.dims], data: own(t.data as BigInt64Array) };
  throw new TypeError(`unsupported output element type ${t.type}`);
}

async function handle(req: HostRequest): Promise<{ reply: HostReply; transfer: ArrayBuffer[] }> {
  switch (req.kind) {
    case 'load': {
      const o = req.options;
      const session = await ort.InferenceSession.create(req.path, {
        executionProviders: o.executionProviders.map((p) => (p === 'cpu' ? 'cpu' : { name: 'cuda', deviceId: p.deviceId ?? 0 })),
        intraOpNumThreads: o.intraOpNumThreads,
        interOpNumThreads: o.interOpNumThreads,
        graphOptimizationLevel: o.graphOptimizationLevel,
        enableCpuMemArena: o.enableCpuMemArena,
      });
      const id = nextSession++;
      sessions.set(id, session);
      return {
        reply: { id: req.id, ok: true, session: id, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) },
        transfer: [],
      };
    }
    case 'run': {
      const session = sessions.get(req.session);
      if (!session) throw new Error(`session ${req.session} is not loaded`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = toOrt(t);
      const out = await session.run(feeds, [...req.outputs]);
      const result: Outputs = {};
      const transfer: ArrayBuffer[] = [];
      for (const name of req.outputs) {
        const t = out[name];
        if (!t) throw new Error(`output ${name} not produced`);
        const conv = fromOrt(t);
        result[name] = conv;
        transfer.push(conv.data.buffer as ArrayBuffer);
      }
      return { reply: { id: req.id, ok: true, result }, transfer };
    }
    case 'release': {
      await sessions.get(req.session)?.release();
      sessions.delete(req.session);
      return { reply: { id: req.id, ok: true }, transfer: [] };
    }
  }
}

parentPort?.on('message', (req: HostRequest) => {
  handle(req).then(
    ({ reply, transfer }) => parentPort?.postMessage(reply, transfer),
    (err: unknown) =>
      parentPort?.postMessage({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies HostReply),
  );
});
