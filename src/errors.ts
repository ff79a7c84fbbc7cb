import type { DeadLetterMessage } from './schema/types/dead-letter.js';

/**
 * Error classes. `retriable` tells callers whether trying again can help; programming and
 * configuration errors are never retried.
 */
export class OgclipError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** A topology, bundle manifest or option that cannot work; the message says what to fix. */
export class ConfigError extends OgclipError {}

/**
 * A failure that no single frame caused (the inference runtime is gone): stages let it end the
 * run instead of turning every frame into a dead letter, so unfinished frames are not committed.
 */
export class RunFailedError extends OgclipError {}

/** A model file that does not match what its adapter expects. */
export class ModelFormatError extends OgclipError {}

/**
 * Why one frame failed: the reason codes dead-letter records carry, as listed (once) in
 * schemas/dead-letter.schema.json. `internal`: a stage was given a record in a state it cannot
 * read (objects or image missing, or from another stage), a wiring fault, not the frame's.
 */
export type FrameErrorCode = DeadLetterMessage['error']['code'];

/** The failure of one frame: carried on the record as data, never thrown through a stream. */
export class FrameError extends OgclipError {
  readonly code: FrameErrorCode;
  constructor(code: FrameErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options);
    this.code = code;
  }
}
