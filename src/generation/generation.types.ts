import type { AuthPrincipal } from '../common/http/app-request';
import type { DeltaWriter, FinishReason, GenerationRequest, TokenUsage } from '../model-server/model-server.types';

/**
 * The transport-free contract of the generation core (src/generation). Front doors (HAPA JSON,
 * HAPA SSE, OpenAI /v1) build a GenerationCall, hand the core a DeltaWriter, and own everything
 * HTTP: status, headers, framing, in-band errors. The same DeltaWriter runs from the model-server
 * reader to the front door, so backpressure reaches the upstream socket.
 */
export type { DeltaWriter, FinishReason, GenerationRequest, TokenUsage };

export interface GenerationCall {
  request: GenerationRequest;
  /** Who asks: per-key stream slots; undefined only on open routes. */
  principal?: AuthPrincipal;
  /** false: never read nor store the response cache, keep no copy of the deltas; true: cache when cacheable. */
  cache: boolean;
  /** false: ask upstream for one JSON answer (one-shot routes); the writer then gets the whole text as one delta. */
  stream: boolean;
  /** Client disconnect (and the front door's own deadlines): aborts the upstream request when nobody else waits. */
  signal: AbortSignal;
}

/** The one outcome after the last delta. */
export interface GenerationOutcome {
  usage: TokenUsage;
  finishReason: FinishReason;
  /** Served from the response cache or by joining another request's generation. */
  cached: boolean;
  /** From the start of the upstream call to the first token, ms (0 when cached). */
  ttftMs: number;
  /** Time spent waiting on model servers (all attempts), ms (0 when cached). */
  upstreamMs: number;
}

/** A front door's writer; `begin` (optional) learns, before the first delta, whether the answer is a cached one. */
export interface FrontDoorWriter extends DeltaWriter {
  begin?(info: { cached: boolean }): void;
}
