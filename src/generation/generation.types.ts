import type { AuthPrincipal } from '../common/http/app-request';

/**
 * The transport-free contract of the generation core (src/generation). Front doors (HAPA JSON,
 * HAPA SSE, OpenAI /v1) build a GenerationCall, hand the core a DeltaWriter, and own everything
 * HTTP: status, headers, framing, in-band errors.
 */

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Why the model stopped: its own word, or the gateway's when it cut the answer. */
export type FinishReason = 'stop' | 'length';

/** What the gateway asks a model server to generate. */
export interface GenerationRequest {
  /** LoRA adapter name (the upstream `model`). */
  adapter: string;
  prompt: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  stop: readonly string[];
  /** vLLM sampling extras passed through verbatim (top_k, min_p, repetition_penalty, seed, ...); part of the cache key. */
  extra?: Readonly<Record<string, unknown>>;
  /** HAPA protocol's integer user id (0 when unknown). */
  hapaUserId?: number;
  /** Forwarded as X-Request-Id so upstream logs can be matched with ours (not part of the cache key). */
  requestId?: string;
}

export interface GenerationCall {
  request: GenerationRequest;
  /** Who asks: per-key stream slots and preferences; undefined only on open routes. */
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

/**
 * Where the core writes deltas, in order. `write` returning false means the client's buffer is
 * full: the core stops reading the model server until `drained()` resolves (backpressure).
 */
export interface DeltaWriter {
  write(delta: string): boolean;
  drained(): Promise<void>;
}
