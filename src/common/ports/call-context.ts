import type { UsageAnnotation } from './usage-annotation';

/** What a front-door service knows of its request, without HTTP: the controller builds it. */
export interface CallContext {
  requestId: string;
  /** process.hrtime.bigint() when the request arrived. */
  startedAt: bigint;
  /** Aborts when the client leaves (and on the front door's own deadlines). */
  signal: AbortSignal;
  /**
   * Adds to the request's usage event. Services note the adapter and model as soon as they are known,
   * so a call that fails is still recorded with them; the outcome comes back with the answer.
   */
  annotate(usage: UsageAnnotation): void;
}

/** An answer plus what the front door records about it (usage event, overhead header). */
export interface Answered<T> {
  body: T;
  usage: UsageAnnotation;
}
