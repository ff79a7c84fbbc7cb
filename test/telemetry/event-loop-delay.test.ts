import test from 'ava';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipelineMetrics } from '../../src/telemetry/pipeline-metrics.js';
import { startTelemetry } from '../../src/telemetry/start-telemetry.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** ogclip_event_loop_delay by quantile, as /metrics serves it. */
async function eventLoopDelay(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ogclip_event_loop_delay\{[^}]*quantile="([^"]+)"[^}]*\} (\S+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

test('ogclip_event_loop_delay shows a blocked event loop at the next scrape, then a new window', async (t) => {
  const port = await freePort();
  const telemetry = await startTelemetry({ serviceName: 'ogclip-test', prometheusPort: port });
  t.teardown(() => telemetry.shutdown());
  new PipelineMetrics().observe(() => 0);
  await sleep(100);
  const idle = await eventLoopDelay(port);
  t.deepEqual(Object.keys(idle).sort(), ['0.5', '0.99', '1']);
  t.true(idle['1']! < 350, `idle max ${idle['1']} ms`);
  await sleep(50);
  const blockedUntil = Date.now() + 400;
  while (Date.now() < blockedUntil); // the main thread busy for 400 ms: no timer can fire
  await sleep(50);
  const blocked = await eventLoopDelay(port);
  t.true(blocked['0.99']! >= 350, `p99 ${blocked['0.99']} ms after a 400 ms block`);
  t.true(blocked['1']! >= 350 && blocked['1']! < 1000, `max ${blocked['1']} ms`);
  t.true(blocked['0.5']! < 200, `p50 ${blocked['0.5']} ms: most samples were on time`);
  await sleep(100);
  const after = await eventLoopDelay(port);
  t.true(after['1']! < 350, `the next window's max is ${after['1']} ms: each scrape starts a new one`);
});
