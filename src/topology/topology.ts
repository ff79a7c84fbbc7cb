// The topology types come from schemas/topology.schema.json (src/schema/types/topology.ts is
// generated from it): the schema states each option, its type and its default once.
import type { Topology } from '../schema/types/topology.js';

export type { Topology };

/** A topology's source, after validation (defaults filled in). */
export type SourceSpec = Topology['source'];
export type SourceKind = SourceSpec['kind'];

/** One of a topology's sinks, after validation (defaults filled in). */
export type SinkSpec = Topology['sinks'][number];
export type SinkKind = SinkSpec['kind'];
