export type UpstreamProtocol = 'openai' | 'hapa';

/** One configured model server. */
export interface UpstreamServer {
  /** Base URL without the protocol prefix or a trailing slash (credentials never logged). */
  url: string;
  origin: string;
  /** Path prefix before /v1/... or /generate/... ('' normally). */
  basePath: string;
  protocol: UpstreamProtocol;
  /** Bounded metric label: host:port. */
  label: string;
}

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

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Why the model stopped: its own word, or the gateway's when it cut the answer. */
export type FinishReason = 'stop' | 'length';

/**
 * Where text deltas go, in order, from the upstream reader to whoever writes to the client.
 * `write` returning false means the client's buffer is full: the reader stops pulling the model
 * server until `drained()` resolves (backpressure).
 */
export interface DeltaWriter {
  write(delta: string): boolean;
  drained(): Promise<void>;
}

/** What one upstream generation reports after its last delta. */
export interface UpstreamOutcome {
  usage: TokenUsage;
  /** Usage reported by the server (false: estimated by the gateway). */
  usageReported: boolean;
  finishReason: FinishReason;
  /** From the start of the call to the first token, ms. */
  ttftMs: number;
  /** Time spent waiting on model servers (all attempts), ms. */
  upstreamMs: number;
  server: string;
  attempts: number;
}

/** Callbacks a protocol client drives while reading one upstream data frame. */
export interface FrameReader {
  text(delta: string): void;
  usage(promptTokens: number, completionTokens: number): void;
  /** The model's own reason for stopping (vLLM `finish_reason`, a HAPA done event). */
  finish(reason: string): void;
  /** The protocol's end marker ([DONE] or a done event). */
  end(): void;
  /** The server reported an error in the stream. */
  fail(message: string): void;
}

/** A typed client for one wire protocol; transport, timeouts and retries are shared. */
export interface ModelProtocolClient {
  readonly protocol: UpstreamProtocol;
  streamRequest(req: GenerationRequest): { path: string; body: string };
  /** The same generation as one JSON answer (one-shot routes: no per-token work on either side). */
  completeRequest(req: GenerationRequest): { path: string; body: string };
  /** Reads a one-shot answer; throws on an unreadable or error body. */
  readCompletion(body: string): {
    text: string;
    promptTokens?: number;
    completionTokens?: number;
    finishReason?: string;
  };
  /** Parses one SSE `data:` payload; throws SyntaxError on an unreadable frame. */
  readFrame(data: string, reader: FrameReader): void;
  /** Reads an error body into a short message for logs. */
  errorMessage(status: number, body: string): string;
  /** The server's own words in an error body (passed on to the caller when it refused the input), if any. */
  errorDetail(body: string): string | undefined;
  modelsPath: string;
  readModels(body: unknown): string[];
}
