import type { Response } from 'express';

/**
 * What a model route knows about its request, for analytics and metrics. Routes set it on
 * `res.locals.usage`; the analytics middleware records one usage event per request when the response closes.
 */
export interface UsageAnnotation {
  adapter?: string;
  modelType?: string;
  promptTokens?: number;
  completionTokens?: number;
  /** Milliseconds from request start to the first model token. */
  ttftMs?: number;
  /** Milliseconds spent waiting on the model server (for gateway overhead). */
  upstreamMs?: number;
  cached?: boolean;
  stream?: boolean;
  completionId?: string;
  /** The model name the client sent (the OpenAI-compatible routes; not the adapter). */
  requestedModel?: string;
  /**
   * A stream that failed after its 200 went out (an in-band error): the status its error maps to.
   * The usage event records it instead of the 200, since analytics counts errors by status.
   */
  inBandErrorStatus?: number;
}

export function annotateUsage(res: Response, patch: UsageAnnotation): void {
  res.locals.usage = { ...(res.locals.usage as UsageAnnotation | undefined), ...patch };
}
