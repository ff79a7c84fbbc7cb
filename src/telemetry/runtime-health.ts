import type { RuntimeStatus } from '../models/inference-client.js';
import type { Telemetry } from './start-telemetry.js';

/**
 * The inference runtime's state on the health endpoints: not ready while a dead worker is
 * replaced (its frames wait; none is lost), failed, with the reason on /healthz, once it gives up.
 */
export function reportRuntimeHealth(
  runtime: { onStatus(listener: (s: RuntimeStatus, why?: string) => void): () => void },
  telemetry: Pick<Telemetry, 'setReady' | 'setFailed'>,
  log: (line: string) => void = () => {},
): () => void {
  return runtime.onStatus((status, why) => {
    if (status === 'failed') telemetry.setFailed(`inference runtime failed: ${why ?? 'unknown'}`);
    else telemetry.setReady(status === 'running');
    if (status !== 'running') log(`inference worker ${status}: ${why ?? ''}`);
  });
}
