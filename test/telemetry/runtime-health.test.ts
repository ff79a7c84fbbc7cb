import test from 'ava';
import { createServer } from 'node:net';
import { InferenceClient } from '../../src/models/inference-client.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import { reportRuntimeHealth } from '../../src/telemetry/runtime-health.js';
import { startTelemetry } from '../../src/telemetry/start-telemetry.js';
import type { FlakyCue } from '../helpers/flaky-inference-worker.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

const FLAKY = new URL('../helpers/flaky-inference-worker.js', import.meta.url);

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

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return `${res.status} ${(await res.text()).trim()}`;
};

test('/readyz is 503 while the inference worker is replaced, /healthz 503 with the reason once the runtime fails', async (t) => {
  const port = await freePort();
  const telemetry = await startTelemetry({ serviceName: 'ogclip-test', healthPort: port });
  t.teardown(() => telemetry.shutdown());
  telemetry.setReady(true);
  const client = InferenceClient.start({
    workerUrl: FLAKY,
    // Each restarted worker waits 1 s before it answers: the probes see the restarting state.
    workerData: { runs: new SharedArrayBuffer(8), exitAlways: true, restartDelayMs: 1000 } satisfies FlakyCue,
    maxConsecutiveRestarts: 1,
  });
  t.teardown(() => client.close());
  const seen: string[] = [];
  // Each status is read off the endpoints the moment it is reported.
  const probes: Promise<void>[] = [];
  reportRuntimeHealth(client, telemetry);
  client.onStatus((s) =>
    probes.push(Promise.all([get(port, '/readyz'), get(port, '/healthz')]).then((r) => void seen.push(`${s}: ${r.join(' | ')}`))),
  );
  t.is(await get(port, '/readyz'), '200 ok');
  const session = await client.load(`${DEFAULT_BUNDLE}/head/projection.onnx`, defaultSessionOptions);
  const width = Number(session.inputs[0]!.shape[1]);
  await t.throwsAsync(
    session.run({ fused: { type: 'float32', dims: [1, width], data: new Float32Array(width) } }, [session.outputs[0]!.name]),
  );
  await Promise.all(probes);
  t.is(seen[0], 'restarting: 503 not ready | 200 ok');
  t.regex(
    seen.at(-1)!,
    /^failed: 503 inference runtime failed: inference worker exited with code 3; 2 worker deaths in a row .* \| 503 inference runtime failed/,
  );
});
