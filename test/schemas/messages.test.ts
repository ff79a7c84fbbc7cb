import test from 'ava';
import { validate } from '../../src/schema/validator.js';
import { deadLetterMessage, detectionsMessage, objectsMessage, base64Float32 } from '../../src/sinks/messages.js';
import { fail } from '../../src/record.js';
import { record } from '../helpers/records.js';

const ctx = { modelName: 'm', modelVersion: '1' };
const mask = { width: 4, height: 3, data: Uint8Array.from([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]) };

function analysed() {
  const r = record('f1', new Uint8Array([1, 2, 3]), { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
  r.image = {
    rgb: { data: new Uint8Array(36), width: 4, height: 3 },
    sam2Input: undefined as never,
    clipFrame: undefined as never,
    clipInput: undefined as never,
  };
  r.objects = [
    {
      state: 'labelled',
      index: 0,
      prompt: { points: [[1, 1]] },
      mask,
      box: [1, 0, 3, 2],
      score: 0.93,
      embedding: Float32Array.from([0.6, 0.8]),
      labels: [{ label: 'a red circle', score: 0.9 }],
    },
  ];
  r.detections = [{ objectIndex: 0, label: 'a red circle', score: 0.9, box: [1, 0, 3, 2], mask }];
  return r;
}

test('objects and detections messages match their schemas; keys are stable', (t) => {
  const r = analysed();
  const o = objectsMessage(r, ctx);
  t.deepEqual(validate('objects', o), []);
  t.is(o.key, 'test/f1/1');
  t.deepEqual(
    Array.from(base64Float32(o.objects[0]!.embedding)).map((v) => Number(v.toFixed(5))),
    [0.6, 0.8],
  );
  t.deepEqual(validate('detections', detectionsMessage(r, ctx)), []);
});

test('dead letters carry the original bytes and the error, and match their schema', (t) => {
  const r = fail(record('bad', new Uint8Array([9, 9])), 'decode', 'corrupt-image', 'cannot decode');
  const d = deadLetterMessage(r, ctx);
  t.deepEqual(validate('dead-letter', d), []);
  t.is(Buffer.from(d.payload_base64, 'base64').toString('hex'), '0909');
});

test('schemas reject what they should (a test that can fail)', (t) => {
  const o = objectsMessage(analysed(), ctx) as unknown as Record<string, unknown>;
  t.notDeepEqual(validate('objects', { ...o, objects: [{ id: -1 }] }), []);
  t.notDeepEqual(validate('frame-envelope', { frame_id: 'x' }), []);
  t.deepEqual(validate('frame-envelope', { frame_id: 'x', image_ref: 'file:///tmp/a.png', prompts: [{ points: [[1, 2]] }] }), []);
  t.notDeepEqual(validate('frame-envelope', { frame_id: 'x', image_base64: 'AA==', prompts: [{ points: [[1]] }] }), []);
  t.deepEqual(validate('labels-control', { labels: ['a cat'] }), []);
  t.notDeepEqual(validate('labels-control', { labels: [] }), []);
});
