// Soak run of live tagging (not CI): a local broker, topologies/live-tagging.yaml pointed at it,
// the camera bridge pushing a looping video of datasets/shapes-val at <fps>, and every few seconds
// the run process's RSS, consumer lag, dropped frames and event-loop delay.
//   scripts/soak.sh <minutes> <fps>     (builds, then runs this)
//   node dist/bench/soak.js --minutes 2 --fps 1 [--sample-s 5] [--out bench/results/soak-....json]
// Writes bench/results/soak-<date>-<minutes>min-<fps>fps.json and a .png chart beside it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { kafkaClient } from '../src/kafka/kafka-client.js';
import { ffmpegPath } from '../src/sources/ffmpeg-frames.js';
import { leastSquaresSlope } from './least-squares.js';
import { writeSoakChart } from './soak-chart.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string' },
    fps: { type: 'string' },
    'sample-s': { type: 'string', default: '5' },
    out: { type: 'string' },
    command: { type: 'string' },
  },
});
const minutes = Number(args.minutes);
const fps = Number(args.fps);
const sampleS = Number(args['sample-s']);
if (!(minutes > 0) || !(fps > 0) || !(sampleS > 0)) {
  process.stderr.write('usage: scripts/soak.sh <minutes> <fps> [--sample-s 5] [--out file.json]\n');
  process.exit(2);
}
const date = new Date().toISOString().slice(0, 10);
const out = resolve(ROOT, args.out ?? `bench/results/soak-${date}-${minutes}min-${fps}fps.json`);
const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (v: number) => Math.round(v * 10) / 10;

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** Two consecutive free loopback ports (broker, controller). */
async function freePortPair(): Promise<number> {
  const free = (p: number) =>
    new Promise<boolean>((ok) => {
      const s = createServer();
      s.once('error', () => ok(false));
      s.listen(p, '127.0.0.1', () => s.close(() => ok(true)));
    });
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 20000);
    if ((await free(p)) && (await free(p + 1))) return p;
  }
  throw new Error('no free port pair on 127.0.0.1');
}

interface Child {
  readonly proc: ChildProcess;
  readonly output: () => string;
  /** Signals the process (its group when detached) and waits, bounded, for it to exit. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<number | null>;
  /** Waits, bounded, for the process to end by itself (killed when late). */
  finish(timeoutMs: number): Promise<number | null>;
}

function start(cmd: string, argv: string[], options: { detached?: boolean } = {}): Child {
  const proc = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  let text = '';
  const keep = (d: Buffer) => {
    text = (text + d.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  const signal = (sig: NodeJS.Signals) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    if (options.detached) process.kill(-proc.pid!, sig);
    else proc.kill(sig);
  };
  const finish = async (timeoutMs: number) => {
    const late = sleep(timeoutMs).then(() => 'late' as const);
    const result = await Promise.race([exited, late]);
    if (result !== 'late') return result;
    signal('SIGKILL');
    return exited;
  };
  return {
    proc,
    output: () => text,
    stop: async (sig, timeoutMs) => {
      signal(sig);
      return finish(timeoutMs);
    },
    finish,
  };
}

/** Waits (bounded) until `ready()` holds, failing with the child's last output if it exits first. */
async function until(what: string, child: Child, ready: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (child.proc.exitCode !== null) throw new Error(`${what}: the process exited with ${child.proc.exitCode}:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms:\n${child.output().slice(-3000)}`);
    await sleep(500);
  }
}

/** Prometheus text -> [name, labels, value] rows. */
function promRows(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    rows.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return rows;
}

const sum = (rows: ReturnType<typeof promRows>, name: string, labels: Record<string, string> = {}) =>
  rows.filter((r) => r.name === name && Object.entries(labels).every(([k, v]) => r.labels[k] === v)).reduce((s, r) => s + r.value, 0);

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

interface Sample {
  t: number; // s since the bridge started
  rssMb: number; // run process
  lag: number; // broker-side: end offsets - the group's committed offsets, camera-frames
  podLag: number; // the run process's ogclip_consumer_lag, summed over partitions
  produced: number; // frames in camera-frames so far
  framesOk: number;
  framesFailed: number;
  droppedStale: number;
  droppedSuperseded: number;
  inFlight: number;
  eventLoopP99Ms: number; // over the window since the previous sample
  eventLoopMaxMs: number;
}

const work = await mkdtemp(join(tmpdir(), 'ogclip-soak-'));
// The machine's 1-minute load average at start and end: a soak on a busy machine measures the machine.
const loadAtStart = loadavg()[0]!;
const children: Child[] = [];
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  log('interrupted: stopping early and writing what was sampled');
});

try {
  // Broker.
  const port = await freePortPair();
  const brokers = [`127.0.0.1:${port}`];
  const broker = start('bash', [join(ROOT, 'scripts/kafka/start-broker.sh'), String(port), join(work, 'kafka')], { detached: true });
  children.push(broker);
  await until('broker start', broker, () => broker.output().includes('Kafka Server started'), 120_000);
  log(`broker on ${brokers[0]}`);

  // Topics, with one partition: one camera, keyed by stream, lands on one partition anyway.
  const cli = (...argv: string[]) => start(process.execPath, [join(ROOT, 'bin/ogclip.js'), ...argv]);
  const topics = cli('topics', 'camera-frames', 'detections', 'dead-letters', 'labels', '--brokers', brokers[0]!, '--partitions', '1');
  if ((await topics.finish(120_000)) !== 0) throw new Error(`ogclip topics failed:\n${topics.output()}`);

  // The live-tagging topology pointed at this broker, on free telemetry ports.
  const topoPath = join(ROOT, 'topologies/live-tagging.yaml');
  const topo = parse(await readFile(topoPath, 'utf8')) as {
    bundle: string;
    source: Record<string, unknown>;
    sinks: Record<string, unknown>[];
    telemetry?: Record<string, unknown>;
  };
  const groupId = `ogclip-soak-${Date.now()}`;
  const [promPort, healthPort] = [await freePort(), await freePort()];
  topo.bundle = resolve(dirname(topoPath), topo.bundle);
  topo.source = { ...topo.source, brokers, groupId };
  // Kafka sinks to this broker; sinks that write files (an index, JSONL...) into the work folder,
  // which is removed at the end.
  topo.sinks = topo.sinks.map((s, i) =>
    s.kind === 'kafka' ? { ...s, brokers } : typeof s.path === 'string' ? { ...s, path: join(work, `sink-${i}-${s.kind}`) } : s,
  );
  const sinkKinds = topo.sinks.map((s) => (s.kind === 'kafka' ? `kafka ${s.content} -> ${s.topic}` : String(s.kind)));
  topo.telemetry = { ...topo.telemetry, prometheusPort: promPort, healthPort };
  const runTopo = join(work, 'live-tagging.yaml');
  await writeFile(runTopo, stringify(topo));
  const runner = cli('run', runTopo);
  children.push(runner);
  const ok = async (url: string) => (await fetch(url).catch(() => undefined))?.status === 200;
  await until('live tagging ready', runner, () => ok(`http://127.0.0.1:${healthPort}/readyz`), 300_000);
  log(`live tagging ready (pid ${runner.proc.pid}, metrics on ${promPort})`);

  // The camera: the validation frames as a video at <fps>, looped by the bridge.
  const video = join(work, 'shapes-val.mkv');
  const ff = start(ffmpegPath(), [
    ...['-nostdin', '-loglevel', 'error', '-y', '-framerate', String(fps)],
    ...['-i', join(ROOT, 'datasets/shapes-val/images/frame-%05d.jpg'), '-c:v', 'mjpeg', '-q:v', '3', video],
  ]);
  if ((await ff.finish(120_000)) !== 0) throw new Error(`ffmpeg could not make the video:\n${ff.output()}`);
  const bridge = cli(
    'camera',
    video,
    '--loop',
    '--fps',
    String(fps),
    '--topic',
    'camera-frames',
    '--stream-id',
    'soak-cam',
    '--brokers',
    brokers[0]!,
  );
  children.push(bridge);
  const t0 = Date.now();
  log(`camera bridge started: ${fps} fps for ${minutes} min, a sample every ${sampleS} s`);

  const admin = kafkaClient(brokers, 'ogclip-soak').admin();
  await admin.connect();
  const samples: Sample[] = [];
  try {
    const metricsUrl = `http://127.0.0.1:${promPort}/metrics`;
    await fetch(metricsUrl).catch(() => undefined); // opens the first event-loop window
    for (let next = t0 + sampleS * 1000; next <= t0 + minutes * 60_000 && !interrupted; next += sampleS * 1000) {
      await sleep(Math.max(0, next - Date.now()));
      for (const c of [runner, bridge]) if (c.proc.exitCode !== null) throw new Error(`a process ended early:\n${c.output()}`);
      const rows = promRows(await (await fetch(metricsUrl)).text());
      const [committed] = await admin.fetchOffsets({ groupId, topics: ['camera-frames'] });
      const ends = await admin.fetchTopicOffsets('camera-frames');
      const done = new Map((committed?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]));
      const s: Sample = {
        t: Math.round((Date.now() - t0) / 100) / 10,
        rssMb: Math.round((await rssMb(runner.proc.pid!)) * 10) / 10,
        lag: ends.reduce((a, p) => a + Number(p.high) - (done.get(p.partition) ?? 0), 0),
        podLag: sum(rows, 'ogclip_consumer_lag'),
        produced: ends.reduce((a, p) => a + Number(p.high), 0),
        framesOk: sum(rows, 'ogclip_frames_total', { outcome: 'ok' }),
        framesFailed: sum(rows, 'ogclip_frames_total', { outcome: 'failed' }),
        droppedStale: sum(rows, 'ogclip_frames_dropped_total', { reason: 'stale' }),
        droppedSuperseded: sum(rows, 'ogclip_frames_dropped_total', { reason: 'superseded' }),
        inFlight: sum(rows, 'ogclip_frames_in_flight'),
        eventLoopP99Ms: round1(rows.find((r) => r.name === 'ogclip_event_loop_delay' && r.labels.quantile === '0.99')?.value ?? NaN),
        eventLoopMaxMs: round1(rows.find((r) => r.name === 'ogclip_event_loop_delay' && r.labels.quantile === '1')?.value ?? NaN),
      };
      samples.push(s);
      log(
        `t=${s.t}s rss=${s.rssMb}MB lag=${s.lag} produced=${s.produced} ok=${s.framesOk} ` +
          `dropped=${s.droppedStale}+${s.droppedSuperseded} loop-p99=${s.eventLoopP99Ms.toFixed(1)}ms`,
      );
    }
  } finally {
    await admin.disconnect();
  }

  const bridgeExit = await bridge.stop('SIGTERM', 30_000);
  const runExit = await runner.stop('SIGTERM', 60_000);
  log(`bridge exited with ${bridgeExit}, run with ${runExit}`);

  const last = samples.at(-1);
  const half = samples.filter((s) => s.t >= (last?.t ?? 0) / 2);
  // Least-squares slope of RSS over the second half (after start-up), MB per minute.
  const perSecond = leastSquaresSlope(
    half.map((s) => s.t),
    half.map((s) => s.rssMb),
  );
  const slope = Math.round(perSecond * 60 * 100) / 100;
  const finite = (xs: number[]) => xs.filter(Number.isFinite);
  const summary = {
    samples: samples.length,
    seconds: last?.t ?? 0,
    framesProduced: last?.produced ?? 0,
    framesOk: last?.framesOk ?? 0,
    framesFailed: last?.framesFailed ?? 0,
    droppedStale: last?.droppedStale ?? 0,
    droppedSuperseded: last?.droppedSuperseded ?? 0,
    lagMax: Math.max(0, ...samples.map((s) => s.lag)),
    lagLast: last?.lag ?? 0,
    rssFirstMb: samples[0]?.rssMb ?? NaN,
    rssMaxMb: Math.max(0, ...samples.map((s) => s.rssMb)),
    rssLastMb: last?.rssMb ?? NaN,
    rssSlopeSecondHalfMbPerMin: slope,
    eventLoopP99MaxMs: Math.max(0, ...finite(samples.map((s) => s.eventLoopP99Ms))),
    eventLoopMaxMs: Math.max(0, ...finite(samples.map((s) => s.eventLoopMaxMs))),
    bridgeExit,
    runExit,
  };
  const label =
    minutes < 30
      ? `a ${minutes}-minute check that the soak script works, at ${fps} fps; not the 30-minute soak`
      : `${minutes}-minute soak at ${fps} fps`;
  const result = {
    command: args.command ?? `node dist/bench/soak.js ${process.argv.slice(2).join(' ')}`,
    date: new Date().toISOString(),
    label,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverage1mAtStart: round1(loadAtStart),
      loadAverage1mAtEnd: round1(loadavg()[0]!),
    },
    setup: {
      topology: 'topologies/live-tagging.yaml with brokers, group id, telemetry ports and file sink paths replaced',
      sinks: sinkKinds,
      input: `datasets/shapes-val (300 frames) as a ${fps} fps video, looped by ogclip camera --loop --fps ${fps}, one stream`,
      partitions: 1,
      sampleSeconds: sampleS,
      eventLoop: 'ogclip_event_loop_delay over the window since the previous sample (ms beyond the 10 ms sampling)',
      lag: 'broker-side: end offset of camera-frames minus the group committed offset',
    },
    summary,
    samples,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  const png = out.replace(/\.json$/, '') + '.png';
  const series = (title: string, unit: string, pick: (s: Sample) => number) => ({
    title,
    unit,
    points: samples.map((s) => [s.t, pick(s)] as const),
  });
  await writeSoakChart(png, `ogclip soak: ${label} (${date})`, [
    series('RSS of ogclip run', 'MB', (s) => s.rssMb),
    series('consumer lag, broker side', 'frames', (s) => s.lag),
    series('event-loop delay p99', 'ms', (s) => s.eventLoopP99Ms),
    series('frames dropped (stale + superseded), cumulative', 'frames', (s) => s.droppedStale + s.droppedSuperseded),
  ]);
  log(`wrote ${out} and ${png}`);
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
} finally {
  for (const c of children.reverse()) await c.stop('SIGTERM', 30_000).catch(() => null);
  await rm(work, { recursive: true, force: true });
}
