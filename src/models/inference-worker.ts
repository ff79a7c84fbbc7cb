// Worker-thread side of InferenceClient: owns onnxruntime sessions, because session.run()
// blocks its thread for the whole inference and the main thread must keep serving Kafka
// heartbeats and I/O.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { fromFloat16, toFloat16, type Outputs, type Tensor } from './tensor.js';
import type { TensorMeta, WorkerReply, WorkerRequest } from './inference-protocol.js';

const sessions = new Map<number, { readonly session: ort.InferenceSession; readonly halfInputs: ReadonlySet<string> }>();
let nextSession = 1;

function meta(list: readonly ort.InferenceSession.ValueMetadata[]): TensorMeta[] {
  return list.map((m) =>
    m.isTensor ? { name: m.name, type: String(m.type), shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

// A float16 input (an fp16 export with keep_io_types off) is fed from float32 values: the
// adapters only ever deal in float32.
function toOrt(t: Tensor, half: boolean): ort.Tensor {
  if (half && t.type === 'float32') return new ort.Tensor('float16', toFloat16(t.data), [...t.dims]);
  return new ort.Tensor(t.type, t.data, [...t.dims]);
}

// Outputs are transferred, not copied, to the main thread; a view into a shared buffer is
// copied first so that transferring it cannot detach memory onnxruntime still uses.
function own<T extends Float32Array | BigInt64Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}

function fromOrt(t: ort.Tensor): Tensor {
  if (t.type === 'float32') return { type: 'float32', dims: [...t.dims], data: own(t.data as Float32Array) };
  if (t.type === 'float16') {
    // Uint16Array of bits, or a Float16Array where the runtime has one: the same bytes either way.
    const d = t.data as unknown as ArrayBufferView & { length: number };
    return { type: 'float32', dims: [...t.dims], data: fromFloat16(new Uint16Array(d.buffer, d.byteOffset, d.length)) };
  }
  if (t.type === 'int64') return { type: 'int64', dims: [...t.dims], data: own(t.data as BigInt64Array) };
  throw new TypeError(`unsupported output element type ${t.type}`);
}

async function handle(req: WorkerRequest): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  switch (req.kind) {
    case 'load': {
      const o = req.options;
      // Created from the path, never from bytes: weights kept in an external data file
      // (`<name>.onnx_data` beside the .onnx) are found relative to the model's own folder.
      const session = await ort.InferenceSession.create(req.path, {
        executionProviders: o.executionProviders.map((p) => (p === 'cpu' ? 'cpu' : { name: 'cuda', deviceId: p.deviceId ?? 0 })),
        intraOpNumThreads: o.intraOpNumThreads,
        interOpNumThreads: o.interOpNumThreads,
        graphOptimizationLevel: o.graphOptimizationLevel,
        enableCpuMemArena: o.enableCpuMemArena,
      });
      const id = nextSession++;
      const halfInputs = new Set(session.inputMetadata.filter((m) => m.isTensor && m.type === 'float16').map((m) => m.name));
      sessions.set(id, { session, halfInputs });
      return {
        reply: { id: req.id, ok: true, session: id, inputs: meta(session.inputMetadata), outputs: meta(session.outputMetadata) },
        transfer: [],
      };
    }
    case 'run': {
      const held = sessions.get(req.session);
      if (!held) throw new Error(`session ${req.session} is not loaded`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = toOrt(t, held.halfInputs.has(name));
      const out = await held.session.run(feeds, [...req.outputs]);
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
      await sessions.get(req.session)?.session.release();
      sessions.delete(req.session);
      return { reply: { id: req.id, ok: true }, transfer: [] };
    }
  }
}

parentPort?.on('message', (req: WorkerRequest) => {
  handle(req).then(
    ({ reply, transfer }) => parentPort?.postMessage(reply, transfer),
    (err: unknown) =>
      parentPort?.postMessage({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
  );
});
