import { assertValid } from '../../src/schema/validator.js';
import type { Topology } from '../../src/topology/topology.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

export interface KafkaTopologyOptions {
  brokers: string[];
  input: string;
  groupId: string;
  detections: string;
  objects?: string;
  deadLetters: string;
  mode?: 'lossless' | 'live';
  patch?: Record<string, unknown>;
  source?: Record<string, unknown>;
}

/** A validated topology reading `input` and writing detections (+objects) and dead letters. */
export function kafkaTopology(o: KafkaTopologyOptions): Topology {
  const sink = (content: string, topic: string) => ({ kind: 'kafka', brokers: o.brokers, content, topic });
  return assertValid<Topology>(
    'topology',
    {
      name: 'kafka-test',
      bundle: DEFAULT_BUNDLE,
      mode: o.mode ?? 'lossless',
      maxInFlight: 8,
      source: {
        kind: 'kafka',
        brokers: o.brokers,
        topic: o.input,
        groupId: o.groupId,
        sessionTimeoutMs: 10000,
        shutdownDeadlineMs: 5000,
        ...(o.source ?? {}),
      },
      sam2: { mode: 'prompted' },
      sinks: [sink('detections', o.detections), sink('dead-letters', o.deadLetters), ...(o.objects ? [sink('objects', o.objects)] : [])],
      ...(o.patch ?? {}),
    },
    'test topology',
  );
}
