import test from 'ava';
import { InFlightGate } from '../../src/operators/in-flight-gate.js';
import { ConfigError } from '../../src/errors.js';

test('acquire waits while the gate is full and resumes on release, first come first served', async (t) => {
  const gate = new InFlightGate(2);
  await gate.acquire();
  await gate.acquire();
  t.true(gate.full);
  const order: string[] = [];
  const a = gate.acquire().then(() => order.push('a'));
  const b = gate.acquire().then(() => order.push('b'));
  await Promise.resolve();
  t.deepEqual(order, []);
  gate.release();
  await a;
  t.deepEqual(order, ['a']);
  gate.release();
  await b;
  t.deepEqual(order, ['a', 'b']);
  t.is(gate.inFlight, 2);
});

test('release without acquire is a programming error; capacity is validated', (t) => {
  t.throws(() => new InFlightGate(1).release());
  t.throws(() => new InFlightGate(0), { instanceOf: ConfigError });
});
