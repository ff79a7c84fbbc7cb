import test from 'ava';
import { validate } from '../../src/schema/validator.js';
import { deadLetterMessage } from '../../src/sinks/messages.js';
import { fail } from '../../src/record.js';
import { record } from '../helpers/records.js';

// dead-letter.failed_at is the schema field with `"format": "date-time"`.
const deadLetter = (failedAt: string) => ({
  ...deadLetterMessage(fail(record('bad', new Uint8Array([9])), 'decode', 'corrupt-image', 'cannot decode'), {
    modelName: 'm',
    modelVersion: '1',
  }),
  failed_at: failedAt,
});

test('date-time fields accept RFC 3339 timestamps', (t) => {
  for (const ok of ['2026-11-29T06:45:00Z', '2026-11-29T06:45:00.123Z', '2026-11-29T06:45:00+05:30', new Date().toISOString()]) {
    t.deepEqual(validate('dead-letter', deadLetter(ok)), [], ok);
  }
});

test('date-time fields reject impossible dates and times, not only wrong shapes', (t) => {
  // Each of these has the shape the former hand-written regex accepted.
  for (const bad of ['2026-13-45T99:00:00Z', '2026-02-30T12:00:00Z', '2026-11-29T24:61:00Z']) {
    const problems = validate('dead-letter', deadLetter(bad));
    t.deepEqual(problems, ['failed_at: must match format "date-time"'], bad);
  }
  t.notDeepEqual(validate('dead-letter', deadLetter('yesterday')), []);
  t.notDeepEqual(validate('dead-letter', deadLetter('2026-11-29T06:45:00')), [], 'a time zone is required');
});
