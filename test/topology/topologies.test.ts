import test from 'ava';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopology } from '../../src/topology/load-topology.js';
import { ConfigError } from '../../src/errors.js';
import { ROOT } from '../helpers/paths.js';

test('every shipped topology is valid, with its paths resolved next to the file', async (t) => {
  const files = (await readdir(`${ROOT}topologies`)).filter((f) => f.endsWith('.yaml'));
  t.true(files.length >= 3);
  for (const f of files) {
    const topo = await loadTopology(`${ROOT}topologies/${f}`);
    t.true(topo.bundle.startsWith(ROOT), `${f}: bundle resolved inside the repo`);
    t.truthy(topo.sinks.length);
  }
});

async function topologyError(yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-topo-'));
  await writeFile(join(dir, 't.yaml'), yaml);
  try {
    await loadTopology(join(dir, 't.yaml'));
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

test('configuration errors say where and what to fix', async (t) => {
  const msg = await topologyError(`
name: x
bundle: b
source: { kind: kafak, path: p }
embeder: crop
sam2: { mode: sometimes }
sinks: []
`);
  t.regex(msg, /source\.kind: "kafak" is not one of "dataset", "directory", "kafka"/);
  t.regex(msg, /unknown key "embeder"/);
  t.regex(msg, /sam2\.mode: must be one of "automatic", "prompted"/);
  t.regex(msg, /sinks: must NOT have fewer than 1 items/);
  t.regex(await topologyError('name: [unclosed'), /not valid YAML/);
  t.regex(
    await topologyError(`
name: live-replay
bundle: b
mode: live
source: { kind: dataset, path: d }
sinks: [{ kind: console }]
`),
    /live mode replays a dataset like a camera: set source.fps > 0/,
  );
});
