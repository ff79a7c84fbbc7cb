// Self time by function of a V8 CPU profile (`node --cpu-prof` writes one per thread):
//   node --cpu-prof --cpu-prof-dir prof bin/ogclip.js run topologies/demo.yaml
//   node dist/bench/profile-summary.js prof/*.cpuprofile [--top 20]
// For each file: the profiled seconds and the functions that took the most of them, "(idle)"
// being time the thread waited for work.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const { values: args, positionals: files } = parseArgs({ options: { top: { type: 'string', default: '20' } }, allowPositionals: true });
if (files.length === 0) throw new Error('usage: node dist/bench/profile-summary.js <file.cpuprofile>... [--top 20]');
for (const file of files) {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const f = frames.get(id);
    const key = f ? `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '?';
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  process.stdout.write(`${basename(file)}: ${(total / 1e6).toFixed(1)} s\n`);
  for (const [key, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) {
    process.stdout.write(`${(us / 1e6).toFixed(2).padStart(8)} s ${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}\n`);
  }
}
