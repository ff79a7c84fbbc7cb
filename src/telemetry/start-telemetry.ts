import { createServer, type Server } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ConfigError } from '../errors.js';

export interface TelemetryOptions {
  readonly serviceName: string;
  readonly prometheusPort?: number; // GET /metrics
  readonly healthPort?: number; // GET /healthz (process up, pipeline not failed), /readyz (models loaded, source started)
}

export interface Telemetry {
  setReady(ready: boolean): void;
  setFailed(reason: string): void;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK for this process (metrics scraped by Prometheus; traces use the
 * standard OTEL_* environment when an exporter is configured there) and the health endpoints.
 * Called by the CLI only: library users keep their own SDK.
 */
export async function startTelemetry(o: TelemetryOptions): Promise<Telemetry> {
  // Traces and logs leave the process only when the standard OTEL_*_EXPORTER variables ask for
  // it; the SDK's own default (OTLP to localhost) would fail loudly where no collector runs.
  process.env.OTEL_TRACES_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const reader = o.prometheusPort !== undefined ? new PrometheusExporter({ port: o.prometheusPort, host: '0.0.0.0' }) : undefined;
  const sdk = new NodeSDK({ serviceName: o.serviceName, ...(reader ? { metricReaders: [reader] } : {}), instrumentations: [] });
  sdk.start();
  let ready = false;
  let failed: string | undefined;
  let server: Server | undefined;
  if (o.healthPort !== undefined) {
    server = createServer((req, res) => {
      const ok = req.url === '/healthz' ? !failed : req.url === '/readyz' ? ready && !failed : undefined;
      if (ok === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : `${failed ?? 'not ready'}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new ConfigError(
            `telemetry.healthPort ${o.healthPort}: ${err.code === 'EADDRINUSE' ? 'already in use; pick another port' : err.message}`,
          ),
        ),
      );
      server!.listen(o.healthPort, '0.0.0.0', resolve);
    });
  }
  return {
    setReady: (r) => void (ready = r),
    setFailed: (reason) => void (failed = reason),
    shutdown: async () => {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await sdk.shutdown();
    },
  };
}
