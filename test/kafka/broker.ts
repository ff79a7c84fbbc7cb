import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Two consecutive free loopback ports (broker, controller). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 20000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free port pair found on 127.0.0.1');
}

/**
 * A real single-node KRaft broker (scripts/kafka/start-broker.sh) on free loopback ports, that
 * tests can kill (SIGTERM or SIGKILL) and restart on the same log folder.
 */
export class TestBroker {
  #proc: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly ownsDir: boolean,
  ) {}

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  static async start(): Promise<TestBroker> {
    const b = new TestBroker(await freePortPair(), await mkdtemp(join(tmpdir(), 'ogclip-kafka-')), true);
    await b.restart();
    return b;
  }

  /** (Re)starts the broker on its folder; resolves when it logs that it started (bounded wait). */
  async restart(timeoutMs = 90_000): Promise<void> {
    if (this.#proc) throw new Error('broker is running');
    const proc = spawn('bash', [`${ROOT}scripts/kafka/start-broker.sh`, String(this.port), this.dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.#proc = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`broker did not start within ${timeoutMs} ms:\n${log.slice(-2000)}`)), timeoutMs);
      const onData = (d: Buffer) => {
        log += d.toString();
        if (log.includes('Kafka Server started')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`broker exited with ${code} before starting:\n${log.slice(-2000)}`));
      });
    });
    proc.removeAllListeners('exit');
    proc.stdout!.removeAllListeners('data');
    proc.stderr!.removeAllListeners('data');
    proc.stdout!.resume();
    proc.stderr!.resume();
  }

  /** Kills the broker's whole process group and waits for it to exit. */
  async kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(-proc.pid!, signal);
    await exited;
    this.#proc = undefined;
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    if (this.ownsDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** The broker scripts/test-all.sh started for the Kafka tests, or a private one. */
export async function sharedBrokers(): Promise<{ brokers: string[]; release(): Promise<void> }> {
  const env = process.env.OGCLIP_TEST_KAFKA;
  if (env) return { brokers: env.split(','), release: async () => {} };
  const b = await TestBroker.start();
  return { brokers: b.brokers, release: () => b.stop() };
}
