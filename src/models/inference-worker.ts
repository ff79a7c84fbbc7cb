// Worker-thread side of InferenceClient: owns onnxruntime sessions, because session.run()
// blocks its thread for the whole inference and the main thread must keep serving Kafka
// heartbeats and I/O.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { fromFloat16, toFloat16, type KeptTensor, type Outputs, type Tensor, type TensorInfo } from './tensor.js';
import type { KeepRequest, TensorMeta, WorkerReply, WorkerRequest } from './inference-protocol.js';
import { sessionConfigEntries } from './session-options.js';
import { SpareBuffers, filled } from './spare-buffers.js';

const sessions = new Map<number, { readonly session: ort.InferenceSession; readonly halfInputs: ReadonlySet<string> }>();
let nextSession = 1;
/**
 * Outputs kept here by `run` requests, by the handle the client named, until it drops them. Kept
 * as the main thread would have received them (float16 already widened to float32), so that a
 * reference feeds exactly the values a copy would have.
 */
const kept = new Map<number, ReadonlyMap<string, Tensor>>();

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

function keptFeed(f: KeptTensor): Tensor {
  const t = kept.get(f.handle)?.get(f.output);
  if (!t) throw new Error(`kept output ${f.output} of handle ${f.handle} is not held by this worker`);
  return t;
}

// Outputs are transferred to the main thread (in a spare buffer when one of their size is
// held); a view into a shared buffer is copied first so that transferring it cannot detach
// memory onnxruntime still uses.
function own<T extends Float32Array | BigInt64Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}

function fromOrt(t: ort.Tensor): Tensor {
  if (t.type === 'float32') return { type: 'float32', dims: [...t.dims], data: t.data as Float32Array };
  if (t.type === 'float16') {
    // Uint16Array of bits, or a Float16Array where the runtime has one: the same bytes either way.
    const d = t.data as unknown as ArrayBufferView & { length: number };
    return { type: 'float32', dims: [...t.dims], data: fromFloat16(new Uint16Array(d.buffer, d.byteOffset, d.length)) };
  }
  if (t.type === 'int64') return { type: 'int64', dims: [...t.dims], data: t.data as BigInt64Array };
  throw new TypeError(`unsupported output element type ${t.type}`);
}

/**
 * Buffers the client gave back (`recycle`). 128 MB: two real-size 64-prompt decoder outputs
 * (64 x 3 x 256 x 256 floats, 50 MB each) fit.
 */
const spare = new SpareBuffers(128 * 1024 * 1024);

/** A tensor to transfer: a spare buffer filled with it, else its own buffer, a copy where it is a view or where it is also kept. */
function toSend(t: Tensor, copy: boolean): Tensor {
  const reuse = spare.take(t.data.byteLength);
  if (t.type === 'float32') return { ...t, data: reuse ? filled(t.data, reuse) : copy ? t.data.slice() : own(t.data) };
  return { ...t, data: reuse ? filled(t.data, reuse) : copy ? t.data.slice() : own(t.data) };
}

/** Item i of axis 0, as a [1, ...] view of the same memory (onnxruntime reads a view's offset). */
function item(t: Tensor, i: number, items: number): Tensor {
  const per = t.data.length / items;
  const dims = [1, ...t.dims.slice(1)];
  if (t.type === 'float32') return { type: 'float32', dims, data: t.data.subarray(i * per, (i + 1) * per) };
  return { type: 'int64', dims, data: t.data.subarray(i * per, (i + 1) * per) };
}

/** Stores the outputs a run keeps under the client's handles; returns what one handle holds. */
function keep(k: KeepRequest, out: Readonly<Record<string, Tensor>>): Record<string, TensorInfo> {
  const info: Record<string, TensorInfo> = {};
  const items = k.perItem ? k.handles.length : 1;
  for (const name of k.outputs) {
    const t = out[name]!;
    if (k.perItem && t.dims[0] !== items) throw new Error(`output ${name} has ${t.dims[0]} items on axis 0, ${items} handles were given`);
    info[name] = { type: t.type, dims: k.perItem ? [1, ...t.dims.slice(1)] : t.dims };
  }
  k.handles.forEach((h, i) => {
    if (h === null) return;
    kept.set(h, new Map(k.outputs.map((name) => [name, k.perItem ? item(out[name]!, i, items) : out[name]!])));
  });
  return info;
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
        extra: sessionConfigEntries(o),
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
      for (const [name, f] of Object.entries(req.feeds)) {
        feeds[name] = toOrt(f.type === 'kept' ? keptFeed(f) : f, held.halfInputs.has(name));
      }
      const keeping = new Set(req.keep?.outputs ?? []);
      const wanted = [...new Set([...req.outputs, ...keeping])];
      const ran = await held.session.run(feeds, wanted);
      const out: Record<string, Tensor> = {};
      for (const name of wanted) {
        const t = ran[name];
        if (!t) throw new Error(`output ${name} not produced`);
        out[name] = fromOrt(t);
      }
      const result: Outputs = {};
      const transfer: ArrayBuffer[] = [];
      for (const name of req.outputs) {
        const conv = toSend(out[name]!, keeping.has(name));
        result[name] = conv;
        transfer.push(conv.data.buffer as ArrayBuffer);
      }
      const info = req.keep ? keep(req.keep, out) : undefined;
      return { reply: { id: req.id, ok: true, result, ...(info ? { kept: info } : {}) }, transfer };
    }
    case 'recycle':
      spare.give(req.buffers);
      return { reply: { id: 0, ok: true }, transfer: [] };
    case 'read': {
      const result: Outputs = {};
      const transfer: ArrayBuffer[] = [];
      for (const name of req.outputs) {
        // A copy: transferring the kept buffer itself would take it from the handle.
        const conv = toSend(keptFeed({ type: 'kept', handle: req.handle, output: name }), true);
        result[name] = conv;
        transfer.push(conv.data.buffer as ArrayBuffer);
      }
      return { reply: { id: req.id, ok: true, result }, transfer };
    }
    case 'drop': {
      for (const h of req.handles) kept.delete(h);
      return { reply: { id: req.id, ok: true }, transfer: [] };
    }
    case 'close':
      throw new Error('close is answered by closeWorker(), not here');
    case 'release': {
      await sessions.get(req.session)?.session.release();
      sessions.delete(req.session);
      return { reply: { id: req.id, ok: true }, transfer: [] };
    }
  }
}

// Requests still running: a close waits for them, because ending the thread while onnxruntime
// is inside a native call (a run, a session release) aborts the whole process.
const running = new Set<Promise<unknown>>();

async function closeWorker(): Promise<never> {
  while (running.size > 0) await Promise.allSettled([...running]);
  kept.clear();
  for (const { session } of sessions.values()) await session.release().catch(() => {});
  sessions.clear();
  process.exit(0); // in a worker thread this ends the thread only
}

parentPort?.on('message', (req: WorkerRequest) => {
  if (req.kind === 'close') return void closeWorker();
  const work = handle(req).then(
    ({ reply, transfer }) => parentPort?.postMessage(reply, transfer),
    (err: unknown) =>
      parentPort?.postMessage({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
  );
  running.add(work);
  void work.finally(() => running.delete(work));
});
