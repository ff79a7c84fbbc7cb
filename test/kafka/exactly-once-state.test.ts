import test from 'ava';
import type { Admin, Message, Producer } from 'kafkajs';
import { ConfigError } from '../../src/errors.js';
import {
  ExactlyOnceDelivery,
  isFencedError,
  type ExactlyOnceOptions,
  type OutputTransaction,
} from '../../src/kafka/exactly-once-delivery.js';
import { kafkaSink } from '../../src/kafka/kafka-sink.js';
import { LazyAdmin } from '../../src/kafka/lazy-admin.js';
import type { FrameRecord } from '../../src/record.js';

// Exactly-once bookkeeping without a broker: a fake transactional producer records what each
// transaction sent, and fails the step it is told to.

type Step = 'sendBatch' | 'sendOffsets' | 'commit';
interface Txn {
  messages: Message[];
  offset?: string;
  outcome?: 'committed' | 'aborted';
}

function fakeProducers() {
  const txns: Txn[] = [];
  const made: string[] = [];
  const fail: { step?: Step; error?: Error } = {};
  const producer = (transactionalId: string): Producer => {
    made.push(transactionalId);
    const p = {
      connect: async () => {},
      disconnect: async () => {},
      transaction: async () => {
        const t: Txn = { messages: [] };
        txns.push(t);
        let active = true;
        const step = async (name: Step) => {
          if (fail.step === name) throw fail.error ?? new Error(`${name} failed`);
        };
        return {
          sendBatch: async (b: { topicMessages: { topic: string; messages: Message[] }[] }) => {
            await step('sendBatch');
            for (const tm of b.topicMessages) t.messages.push(...tm.messages);
          },
          sendOffsets: async (o: { topics: { partitions: { offset: string }[] }[] }) => {
            await step('sendOffsets');
            t.offset = o.topics[0]!.partitions[0]!.offset;
          },
          commit: async () => {
            await step('commit');
            active = false;
            t.outcome = 'committed';
          },
          abort: async () => {
            active = false;
            t.outcome ??= 'aborted';
          },
          isActive: () => active,
        };
      },
    };
    return p as unknown as Producer;
  };
  return { txns, made, fail, producer };
}

function fakeAdmin(topics: string[] = ['out']): { admin: () => Promise<Admin>; asked: () => number } {
  let asked = 0;
  const a = {
    fetchOffsets: async () => [{ topic: 'in', partitions: [{ partition: 0, offset: '-1', metadata: null }] }],
    listTopics: async () => topics,
  } as unknown as Admin;
  return {
    admin: async () => {
      asked++;
      return a;
    },
    asked: () => asked,
  };
}

function delivery(extra: Partial<ExactlyOnceOptions> = {}) {
  const producers = fakeProducers();
  const admin = fakeAdmin();
  const eos = new ExactlyOnceDelivery({
    brokers: ['127.0.0.1:1'],
    clientId: 'test',
    groupId: 'g',
    topic: 'in',
    admin: admin.admin,
    log: () => {},
    producer: producers.producer,
    ...extra,
  });
  return { eos, ...producers, asked: admin.asked };
}

const record = (offset: number, partition = 0): FrameRecord =>
  ({
    streamId: 's',
    frameId: `f${offset}`,
    timestamp: 0,
    receivedAt: 0,
    origin: { kind: 'kafka', topic: 'in', partition, offset: String(offset) },
    payload: new Uint8Array(),
    timings: {},
  }) as FrameRecord;

/** Reads `offsets` of partition 0 into the current incarnation and stages one message of `bytes` each. */
function readAndStage(eos: ExactlyOnceDelivery, offsets: number[], bytes = 10): void {
  for (const o of offsets) {
    const r = record(o);
    eos.admit(r);
    eos.stage(r, 'out', { key: null, value: Buffer.alloc(bytes, 1) });
  }
}

test('a failed transaction voids its incarnation: no later commit of it (the next round, a stopping source, after the last failure) sends offsets past its aborted frames', async (t) => {
  const { eos, txns, fail } = delivery();
  eos.begin(0);
  await eos.claim(0);
  readAndStage(eos, [0, 1, 2]);
  fail.step = 'sendOffsets';
  await t.throwsAsync(eos.commit(0, '3'), { message: /sendOffsets failed/ });
  t.is(txns[0]!.outcome, 'aborted');
  fail.step = undefined;
  // The source, stopping or out of retries, does not rewind; its tracker still offers the offsets.
  readAndStage(eos, [3]);
  t.false(eos.canCommit(0), 'the source is told not to try');
  await t.throwsAsync(eos.commit(0, '4'), { message: /failed.*nothing read since its last commit commits/ });
  const past = txns.filter((x) => x.offset !== undefined);
  t.deepEqual(past, [], `no transaction sent offsets after the aborted one (sent: ${JSON.stringify(past.map((x) => x.offset))})`);

  // A rewind (new incarnation) reads the frames again, and they commit with all their messages.
  eos.begin(0);
  await eos.claim(0);
  readAndStage(eos, [0, 1, 2, 3]);
  t.true(eos.canCommit(0));
  t.deepEqual(await eos.commit(0, '4'), { offset: '4', messages: 4 });
  t.is(txns.at(-1)!.offset, '4');
  t.is(txns.at(-1)!.messages.length, 4);
  await eos.close();
});

test('a frame of a failed incarnation still in the pipeline is not current: its outputs are not staged, its ack not counted', async (t) => {
  const { eos, fail } = delivery();
  eos.begin(0);
  await eos.claim(0);
  const late = record(5);
  eos.admit(late);
  readAndStage(eos, [4]);
  fail.step = 'commit';
  await t.throwsAsync(eos.commit(0, '5'));
  t.false(eos.isCurrent(late));
  await eos.close();
});

test('transactions are capped at maxTransactionBytes, on frame boundaries; a frame larger than the cap goes alone', async (t) => {
  const { eos, txns } = delivery({ maxTransactionBytes: 1000 });
  eos.begin(0);
  await eos.claim(0);
  readAndStage(eos, [0, 1, 2, 3, 4], 400);
  readAndStage(eos, [5], 5000);
  readAndStage(eos, [6], 400);
  const offsets: string[] = [];
  for (let i = 0; i < 10; i++) {
    const c = await eos.commit(0, '7');
    offsets.push(c.offset);
    if (c.offset === '7') break;
  }
  t.deepEqual(offsets, ['2', '4', '5', '6', '7'], 'two 400-byte frames fit in 1000 bytes, a third does not');
  t.deepEqual(
    txns.filter((x) => x.offset !== undefined).map((x) => x.messages.length),
    [2, 2, 1, 1, 1],
  );
  // Two messages of one frame (two sinks) stay in one transaction.
  const second = delivery({ maxTransactionBytes: 500 });
  second.eos.begin(0);
  await second.eos.claim(0);
  readAndStage(second.eos, [0, 0, 1], 400);
  t.deepEqual(await second.eos.commit(0, '2'), { offset: '1', messages: 2 });
  await eos.close();
  await second.eos.close();
});

test('fencing is recognised through kafkajs wrappers (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED); other failures are not fencing', (t) => {
  const protocol = Object.assign(new Error('epoch'), { name: 'KafkaJSProtocolError', type: 'INVALID_PRODUCER_EPOCH', code: 47 });
  t.true(isFencedError(protocol));
  t.true(isFencedError(Object.assign(new Error('wrapped'), { name: 'KafkaJSNonRetriableError', cause: protocol })));
  t.true(isFencedError(Object.assign(new Error('many'), { errors: [new Error('x'), { code: 90 }] })));
  t.false(isFencedError(Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE', code: 10 })));
  t.false(isFencedError(new Error('Connection error')));
});

test('after close(), a claim (a batch still running) connects no producer and asks for no admin', async (t) => {
  const { eos, made, asked } = delivery();
  eos.begin(0);
  await eos.close();
  await t.throwsAsync(eos.claim(0), { message: /closed/ });
  t.deepEqual(made, []);
  t.is(asked(), 0);
});

test('LazyAdmin: closed while connecting, the admin is disconnected once connected; none is made after close', async (t) => {
  const events: string[] = [];
  let connected!: () => void;
  const admin = new LazyAdmin(
    () =>
      ({
        connect: () => new Promise<void>((resolve) => (connected = resolve)).then(() => void events.push('connected')),
        disconnect: async () => void events.push('disconnected'),
      }) as unknown as Admin,
  );
  const first = admin.get();
  const closing = admin.close();
  connected();
  await first;
  await closing;
  t.deepEqual(events, ['connected', 'disconnected']);
  await t.throwsAsync(admin.get(), { message: /closed/ });
  t.deepEqual(events, ['connected', 'disconnected'], 'no second admin');
});

test('exactly-once kafka sink: an output topic missing on the broker is refused at start (ConfigError)', async (t) => {
  const admin = fakeAdmin(['det']);
  const eos = new ExactlyOnceDelivery({ brokers: ['b:1'], clientId: 'c', groupId: 'g', topic: 'in', admin: admin.admin, log: () => {} });
  await t.notThrowsAsync(kafkaSink({ brokers: ['b:1'], topic: 'det', content: 'detections', clientId: 'c', transaction: eos }));
  const err = await t.throwsAsync(kafkaSink({ brokers: ['b:1'], topic: 'dlq', content: 'dead-letters', clientId: 'c', transaction: eos }), {
    instanceOf: ConfigError,
  });
  t.regex(err.message, /output topic "dlq" does not exist.*create the topic/);
});

test('exactly-once kafka sink: a batch whose messages cannot all be built stages none of them (the retry would stage the first ones twice)', async (t) => {
  const staged: string[] = [];
  const transaction: OutputTransaction = {
    stage: (r) => void staged.push(r.frameId),
    requireTopic: async () => {},
  };
  const sink = await kafkaSink({ brokers: ['b:1'], topic: 'dlq', content: 'dead-letters', clientId: 'c', transaction });
  const failed = (offset: number, payload?: Uint8Array): FrameRecord => {
    const r = record(offset) as { -readonly [K in keyof FrameRecord]: FrameRecord[K] };
    r.error = { stage: 'decode', code: 'corrupt-image', message: 'x' };
    (r as { payload?: Uint8Array }).payload = payload; // a dead letter carries the payload: without one its message cannot be built
    return r as FrameRecord;
  };
  const ctx = { modelName: 'm', modelVersion: '1' };
  await t.throwsAsync(sink.write([failed(0, new Uint8Array([1])), failed(1, new Uint8Array([2])), failed(2)], ctx));
  t.deepEqual(staged, [], 'nothing of the failed write was staged');
  await sink.write([failed(0, new Uint8Array([1])), failed(1, new Uint8Array([2]))], ctx);
  t.deepEqual(staged, ['f0', 'f1']);
});
