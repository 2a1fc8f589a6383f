import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { describeError, ModelServerPool, ServerState } from './model-server.pool';
import { DeltaWriter, FinishReason, FrameReader, GenerationRequest, UpstreamOutcome } from './model-server.types';
import { SseDataParser } from './sse-parser';
import { StopMarkerStripper } from './stop-markers';
import { ClientGoneError, GenerationAbort } from './upstream-abort';

/** A failed attempt on one server. */
class AttemptError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly refused = false,
    /** The server's own Retry-After (seconds), on 429/503. */
    readonly retryAfter?: number,
    /** A 4xx the caller must see: the server refused the input itself. */
    readonly clientMessage?: string,
  ) {
    super(message);
  }
}

const REFUSED_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);
// An upstream Retry-After is passed on within these bounds (a hostile or broken value cannot park clients).
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_MAX_S = 120;
const DEFAULT_RETRY_AFTER_S = 5;
// A one-shot body is JSON around the answer: allow this much envelope beyond MAX_ANSWER_BYTES.
const ENVELOPE_BYTES = 64 * 1024;
// After [DONE] a server may keep the connection open; past this the body is dropped.
const AFTER_DONE_GRACE_MS = 1_000;
const CONTEXT_LENGTH_RE = /context length|context window|maximum context|too many tokens|prompt is too long/i;

interface RunState {
  readonly startedAt: number;
  firstTokenAt?: number;
  emitted: boolean;
  frames: number;
  emittedBytes: number;
  promptTokens?: number;
  completionTokens?: number;
  finishReason?: string;
  upstreamMs: number;
  idleTimer?: NodeJS.Timeout;
  firstTokenTimer?: NodeJS.Timeout;
}

export interface GenerateOptions {
  /** false: ask for one JSON answer instead of a stream (one-shot routes); the writer then gets one delta. */
  stream?: boolean;
}

/**
 * Runs one generation on the pool: picks a server, reads its answer into `out` with stop markers
 * removed, and retries on another server only while nothing has reached `out`. The one
 * AbortController carries client disconnect and every timeout; `out` returning false pauses the
 * upstream read until it drains, so a slow client slows the model server's socket, not our memory.
 */
@Injectable()
export class ModelServerService {
  private readonly maxAnswerBytes: number;

  constructor(
    private readonly pool: ModelServerPool,
    private readonly config: AppConfig,
  ) {
    this.maxAnswerBytes = config.codeGen.maxAnswerBytes;
  }

  async generate(
    req: GenerationRequest,
    out: DeltaWriter,
    ctl: AbortController,
    opts: GenerateOptions = {},
  ): Promise<UpstreamOutcome> {
    const run: RunState = { startedAt: performance.now(), emitted: false, frames: 0, emittedBytes: 0, upstreamMs: 0 };
    const signal = ctl.signal;
    if (signal.aborted) throw this.abortError(signal.reason);
    // A one-shot answer arrives whole, so its first "token" is the whole answer: AI_MODEL_TIMEOUT applies
    // as on streams, and REQUEST_TIMEOUT too when it is shorter.
    const deadlineMs =
      opts.stream === false
        ? Math.min(this.config.modelServer.timeoutMs, this.config.http.requestTimeoutMs)
        : this.config.modelServer.timeoutMs;
    // One deadline for the first token across every attempt: a retry gets what is left of it.
    const armFirstToken = (): void => {
      const left = deadlineMs - (performance.now() - run.startedAt);
      run.firstTokenTimer = setTimeout(() => ctl.abort(new GenerationAbort('first-token')), Math.max(0, left));
    };
    armFirstToken();
    const tried = new Set<ServerState>();
    let last: AttemptError | undefined;
    try {
      for (;;) {
        const state = this.pool.pick(tried);
        if (!state) break;
        tried.add(state);
        try {
          await this.attempt(state, req, out, ctl, run, opts);
          const completion = run.completionTokens ?? run.frames;
          const prompt = run.promptTokens ?? Math.ceil(req.prompt.length / 4);
          return {
            usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
            usageReported: run.completionTokens !== undefined,
            finishReason: finishReason(run.finishReason),
            ttftMs: (run.firstTokenAt ?? performance.now()) - run.startedAt,
            upstreamMs: run.upstreamMs,
            server: state.label,
            attempts: tried.size,
          };
        } catch (e) {
          if (signal.aborted) throw this.abortError(signal.reason);
          if (!(e instanceof AttemptError)) throw e;
          last = e;
          if (e.refused) this.pool.takeOut(state, e.message);
          // retry only before the first token reaches the client
          if (!e.retryable || run.emitted) break;
          run.frames = run.emittedBytes = 0;
          run.promptTokens = run.completionTokens = run.finishReason = undefined;
          if (run.firstTokenAt !== undefined) {
            // The failed attempt produced text nobody saw (stripped, or a truncated one-shot answer).
            run.firstTokenAt = undefined;
            clearTimeout(run.idleTimer);
            armFirstToken();
          }
        }
      }
    } finally {
      clearTimeout(run.firstTokenTimer);
      clearTimeout(run.idleTimer);
    }
    if (last?.clientMessage !== undefined) {
      const code = CONTEXT_LENGTH_RE.test(last.clientMessage) ? ErrorCode.E4008 : ErrorCode.E4006;
      throw new AppException(code, { message: last.clientMessage, cause: last });
    }
    if (!last || last.refused || last.retryAfter !== undefined) {
      const retryAfter = last?.retryAfter ?? DEFAULT_RETRY_AFTER_S;
      throw new AppException(ErrorCode.E5005, {
        message: last && !last.refused ? 'Every model server is busy' : 'No healthy model server is available',
        cause: last,
        headers: { 'Retry-After': String(retryAfter) },
      });
    }
    throw new AppException(last.code, { cause: last });
  }

  private abortError(reason: unknown): Error {
    if (reason instanceof GenerationAbort) {
      switch (reason.kind) {
        case 'client':
          return new ClientGoneError();
        case 'first-token':
          return new AppException(ErrorCode.E5001, { message: 'The AI model did not answer in time', cause: reason });
        case 'idle':
          return new AppException(ErrorCode.E5001, { message: 'The AI model stopped sending tokens', cause: reason });
        case 'shutdown':
          return new AppException(ErrorCode.E5008, { message: 'Server is shutting down', cause: reason });
      }
    }
    if (reason instanceof AppException) return reason;
    return new ClientGoneError();
  }

  private async attempt(
    state: ServerState,
    req: GenerationRequest,
    out: DeltaWriter,
    ctl: AbortController,
    run: RunState,
    opts: GenerateOptions,
  ): Promise<void> {
    const stream = opts.stream !== false;
    const { path, body } = stream ? state.client.streamRequest(req) : state.client.completeRequest(req);
    const started = performance.now();
    state.inFlight++;
    try {
      let res;
      try {
        res = await state.dispatcher.request({
          path: state.server.basePath + path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: stream ? 'text/event-stream' : 'application/json',
            'x-request-id': req.requestId ?? '',
            ...this.pool.authHeaders,
          },
          body,
          signal: ctl.signal,
        });
      } catch (e) {
        if (ctl.signal.aborted) throw e;
        const code = (e as { code?: string }).code ?? '';
        throw new AttemptError(ErrorCode.E5006, `${state.label}: ${describeError(e)}`, true, REFUSED_CODES.has(code));
      }
      if (res.statusCode !== 200) throw await this.refusal(state, res.statusCode, res.headers, res.body);
      if (stream) await this.read(state, res.body, out, ctl, run);
      else await this.readWhole(state, res.body, out, ctl, run);
    } finally {
      state.inFlight--;
      run.upstreamMs += performance.now() - started;
    }
  }

  /** A non-200 answer: busy (429/503, with its Retry-After), the caller's input (400), or a server fault. */
  private async refusal(
    state: ServerState,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: Readable & { text(): Promise<string> },
  ): Promise<AttemptError> {
    const text = await readLimited(body, ENVELOPE_BYTES).catch(() => '');
    const message = state.client.errorMessage(status, text);
    if (status === 429 || status === 503) {
      return new AttemptError(ErrorCode.E5005, `${state.label}: ${message}`, true, false, retryAfter(headers));
    }
    if (status === 400 || status === 413 || status === 422) {
      // The input itself was refused: another server would refuse it too.
      const detail = state.client.errorDetail(text) ?? `the model server refused the request (HTTP ${status})`;
      return new AttemptError(ErrorCode.E4006, `${state.label}: ${message}`, false, false, undefined, detail);
    }
    return new AttemptError(ErrorCode.E5006, `${state.label}: ${message}`, true);
  }

  /** One JSON answer, read within MAX_ANSWER_BYTES, parsed once, handed to `out` as one delta. */
  private async readWhole(
    state: ServerState,
    body: Readable,
    out: DeltaWriter,
    ctl: AbortController,
    run: RunState,
  ): Promise<void> {
    let raw: string;
    try {
      raw = await readLimited(body, this.maxAnswerBytes + ENVELOPE_BYTES);
    } catch (e) {
      if (ctl.signal.aborted) throw e;
      if (e instanceof AnswerTooLarge) throw this.tooLarge(state);
      throw new AttemptError(ErrorCode.E5007, `${state.label}: answer interrupted (${describeError(e)})`, true);
    }
    let answer: { text: string; promptTokens?: number; completionTokens?: number; finishReason?: string };
    try {
      answer = state.client.readCompletion(raw);
    } catch (e) {
      throw new AttemptError(ErrorCode.E5006, `${state.label}: unreadable answer (${describeError(e)})`, true);
    }
    if (cutShort(answer.finishReason)) throw this.cutShort(state, answer.finishReason);
    run.firstTokenAt = performance.now();
    clearTimeout(run.firstTokenTimer);
    run.promptTokens = answer.promptTokens;
    run.completionTokens = answer.completionTokens;
    run.finishReason = answer.finishReason;
    run.frames = Math.ceil(answer.text.length / 4); // estimate when the server reports no usage
    const stripper = new StopMarkerStripper();
    const text = stripper.push(answer.text) + stripper.flush();
    if (Buffer.byteLength(text) > this.maxAnswerBytes) throw this.tooLarge(state);
    if (text.length > 0) {
      run.emitted = true;
      out.write(text);
    }
  }

  /**
   * Reads the SSE body: bytes → `data:` payloads (parser) → text (protocol client) → stop markers
   * removed → `out`. The end marker ends the read even if the server keeps the connection open.
   */
  private read(
    state: ServerState,
    body: Readable,
    out: DeltaWriter,
    ctl: AbortController,
    run: RunState,
  ): Promise<void> {
    const idleMs = this.config.modelServer.idleTimeoutMs;
    const maxBytes = this.maxAnswerBytes;
    const stripper = new StopMarkerStripper();
    let ended = false;
    let failure: string | undefined;
    let tooLarge = false;
    let paused = false;
    const armIdle = (): void => {
      clearTimeout(run.idleTimer);
      run.idleTimer = setTimeout(() => ctl.abort(new GenerationAbort('idle')), idleMs);
    };
    const resume = (): void => {
      paused = false;
      if (ended || ctl.signal.aborted) return;
      armIdle();
      body.resume();
    };
    const emit = (text: string): void => {
      run.emitted = true;
      run.emittedBytes += Buffer.byteLength(text);
      if (run.emittedBytes > maxBytes) {
        tooLarge = true;
        return;
      }
      if (!out.write(text) && !paused) {
        // The client's buffer is full: stop pulling upstream, and stop the idle clock (we are the silent side).
        paused = true;
        body.pause();
        clearTimeout(run.idleTimer);
        out.drained().then(resume, resume);
      }
    };
    const reader: FrameReader = {
      text(delta) {
        run.frames++;
        if (run.firstTokenAt === undefined) {
          run.firstTokenAt = performance.now();
          clearTimeout(run.firstTokenTimer);
          armIdle();
        }
        const text = stripper.push(delta);
        if (text.length > 0) emit(text);
      },
      usage(prompt, completion) {
        run.promptTokens = prompt;
        run.completionTokens = completion;
      },
      finish(reason) {
        run.finishReason = reason;
      },
      end() {
        ended = true;
      },
      fail(message) {
        failure = message;
      },
    };
    const client = state.client;
    const parser = new SseDataParser((data) => {
      if (!ended && failure === undefined && !tooLarge) client.readFrame(data, reader);
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: AttemptError): void => {
        if (settled) return;
        settled = true;
        body.destroy();
        reject(e);
      };
      const finish = (): void => {
        settled = true;
        clearTimeout(run.idleTimer);
        if (run.frames === 0 && run.finishReason === undefined) {
          // Nothing generated and no reason given: a broken answer, never a clean empty one.
          return reject(new AttemptError(ErrorCode.E5006, `${state.label}: stream ended with no tokens`, true));
        }
        if (cutShort(run.finishReason)) return reject(this.cutShort(state, run.finishReason));
        const rest = stripper.flush();
        if (rest.length > 0) emit(rest);
        if (tooLarge) return reject(this.tooLarge(state));
        resolve();
      };
      // undici bodies emit Buffers; the decoder keeps multi-byte characters split across chunks whole.
      const decoder = new StringDecoder('utf8');
      body.on('data', (chunk: Buffer) => {
        if (settled) return;
        run.idleTimer?.refresh();
        try {
          parser.push(decoder.write(chunk));
        } catch (e) {
          return fail(
            new AttemptError(ErrorCode.E5006, `${state.label}: unreadable stream (${describeError(e)})`, true),
          );
        }
        if (failure !== undefined) return fail(new AttemptError(ErrorCode.E5006, `${state.label}: ${failure}`, true));
        if (tooLarge) return fail(this.tooLarge(state));
        if (ended) {
          finish();
          // The answer is complete; a server holding the connection open gets a moment to close it (keep-alive).
          if (!body.readableEnded) {
            body.resume();
            const drop = setTimeout(() => body.destroy(), AFTER_DONE_GRACE_MS);
            drop.unref();
            body.once('end', () => clearTimeout(drop));
            body.once('error', () => clearTimeout(drop));
          }
        }
      });
      body.on('end', () => {
        if (settled) return;
        if (!ended) {
          settled = true;
          return reject(new AttemptError(ErrorCode.E5007, `${state.label}: stream ended without its end marker`, true));
        }
        finish();
      });
      body.on('error', (e: Error) => {
        if (settled) return;
        settled = true;
        if (ctl.signal.aborted) return reject(e);
        reject(new AttemptError(ErrorCode.E5007, `${state.label}: stream interrupted (${describeError(e)})`, true));
      });
    });
  }

  private cutShort(state: ServerState, reason: string): AttemptError {
    return new AttemptError(ErrorCode.E5007, `${state.label}: generation ended early (finish_reason ${reason})`, true);
  }

  private tooLarge(state: ServerState): AttemptError {
    return new AttemptError(
      ErrorCode.E5006,
      `${state.label}: answer larger than MAX_ANSWER_BYTES (${this.maxAnswerBytes})`,
      false,
    );
  }
}

class AnswerTooLarge extends Error {}

/** The body as text, refusing (and dropping) one larger than `limit` bytes instead of buffering it. */
function readLimited(body: Readable, limit: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        body.destroy();
        return reject(new AnswerTooLarge());
      }
      chunks.push(chunk);
    });
    body.on('end', () => resolve(Buffer.concat(chunks, size).toString('utf8')));
    body.on('error', reject);
  });
}

function retryAfter(headers: Record<string, string | string[] | undefined>): number {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  let seconds = value === undefined ? NaN : Number(value);
  if (!Number.isFinite(seconds) && value !== undefined) {
    const at = Date.parse(value);
    if (Number.isFinite(at)) seconds = (at - Date.now()) / 1000;
  }
  if (!Number.isFinite(seconds)) return DEFAULT_RETRY_AFTER_S;
  return Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, Math.ceil(seconds)));
}

function finishReason(raw: string | undefined): FinishReason {
  return raw === 'length' ? 'length' : 'stop';
}

/**
 * vLLM ends a request its engine dropped with `abort`, and `error` is the common name for a generation that
 * failed: a truncated answer, not a finish. Only those two: servers have reasons of their own for a clean end.
 */
function cutShort(raw: string | undefined): raw is 'abort' | 'error' {
  return raw === 'abort' || raw === 'error';
}
