import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { describeError, ModelServerPool, ServerState } from './model-server.pool';
import { FrameReader, GenerationOutcome, GenerationRequest, TokenSink } from './model-server.types';
import { SseDataParser } from './sse-parser';
import { StopMarkerStripper } from './stop-markers';

/** Why a generation's AbortController fired; the controller's `reason`. */
export class GenerationAbort extends Error {
  constructor(readonly kind: 'client' | 'first-token' | 'idle' | 'shutdown') {
    super(`generation aborted: ${kind}`);
    this.name = 'GenerationAbort';
  }
}

/** Thrown when the caller's own client went away; nothing is reported. */
export class ClientGoneError extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientGoneError';
  }
}

/** A failed attempt on one server. */
class AttemptError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly refused = false,
  ) {
    super(message);
  }
}

const REFUSED_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

interface RunState {
  readonly startedAt: number;
  firstTokenAt?: number;
  emitted: boolean;
  frames: number;
  promptTokens?: number;
  completionTokens?: number;
  upstreamMs: number;
  idleTimer?: NodeJS.Timeout;
  firstTokenTimer?: NodeJS.Timeout;
}

export interface GenerateOptions {
  /** false: ask for one JSON answer instead of a stream (one-shot routes); the sink then gets one delta. */
  stream?: boolean;
}

/**
 * Runs one generation on the pool: picks a server, streams its answer through `sink` with stop
 * markers removed, and retries on another server only while nothing has reached the sink (or the
 * sink can `reset`). One AbortController carries client disconnect and every timeout.
 */
@Injectable()
export class ModelServerService {
  constructor(
    private readonly pool: ModelServerPool,
    private readonly config: AppConfig,
  ) {}

  async generate(
    req: GenerationRequest,
    sink: TokenSink & { reset?: () => void },
    ctl: AbortController,
    opts: GenerateOptions = {},
  ): Promise<GenerationOutcome> {
    const run: RunState = { startedAt: performance.now(), emitted: false, frames: 0, upstreamMs: 0 };
    const signal = ctl.signal;
    if (signal.aborted) throw this.abortError(signal.reason);
    // A one-shot answer arrives whole, so its first "token" is the end: allow the one-shot cap too.
    const answerTimeoutMs =
      opts.stream === false
        ? Math.max(this.config.modelServer.timeoutMs, this.config.http.requestTimeoutMs)
        : this.config.modelServer.timeoutMs;
    run.firstTokenTimer = setTimeout(() => ctl.abort(new GenerationAbort('first-token')), answerTimeoutMs);
    const tried = new Set<ServerState>();
    let last: AttemptError | undefined;
    try {
      for (;;) {
        const state = this.pool.pick(tried);
        if (!state) break;
        tried.add(state);
        try {
          await this.attempt(state, req, sink, ctl, run, opts);
          const completion = run.completionTokens ?? run.frames;
          const prompt = run.promptTokens ?? Math.ceil(req.prompt.length / 4);
          return {
            usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
            usageReported: run.completionTokens !== undefined,
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
          if (!e.retryable) break;
          if (run.emitted) {
            // retry only before the first token reaches the client
            if (!sink.reset) break;
            sink.reset();
            run.emitted = false;
          }
          run.frames = 0;
          run.promptTokens = run.completionTokens = undefined;
        }
      }
    } finally {
      clearTimeout(run.firstTokenTimer);
      clearTimeout(run.idleTimer);
    }
    if (!last || last.refused) {
      throw new AppException(ErrorCode.E5005, {
        message: 'No healthy model server is available',
        cause: last,
        headers: { 'Retry-After': '5' },
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
    return new ClientGoneError();
  }

  private async attempt(
    state: ServerState,
    req: GenerationRequest,
    sink: TokenSink,
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
      if (res.statusCode !== 200) {
        const text = await res.body.text().catch(() => '');
        const message = state.client.errorMessage(res.statusCode, text);
        throw new AttemptError(ErrorCode.E5006, `${state.label}: ${message}`, true);
      }
      if (stream) await this.read(state, res.body, sink, ctl, run);
      else await this.readWhole(state, res.body, sink, ctl, run);
    } finally {
      state.inFlight--;
      run.upstreamMs += performance.now() - started;
    }
  }

  /** One JSON answer: parsed once, stop markers removed, handed to the sink as one delta. */
  private async readWhole(
    state: ServerState,
    body: Readable & { text(): Promise<string> },
    sink: TokenSink,
    ctl: AbortController,
    run: RunState,
  ): Promise<void> {
    let raw: string;
    try {
      raw = await body.text();
    } catch (e) {
      if (ctl.signal.aborted) throw e;
      throw new AttemptError(ErrorCode.E5007, `${state.label}: answer interrupted (${describeError(e)})`, true);
    }
    let answer: { text: string; promptTokens?: number; completionTokens?: number };
    try {
      answer = state.client.readCompletion(raw);
    } catch (e) {
      throw new AttemptError(ErrorCode.E5006, `${state.label}: unreadable answer (${describeError(e)})`, true);
    }
    run.firstTokenAt = performance.now();
    clearTimeout(run.firstTokenTimer);
    run.promptTokens = answer.promptTokens;
    run.completionTokens = answer.completionTokens;
    run.frames = Math.ceil(answer.text.length / 4); // estimate when the server reports no usage
    const stripper = new StopMarkerStripper();
    const text = stripper.push(answer.text) + stripper.flush();
    if (text.length > 0) {
      run.emitted = true;
      sink.text(text);
    }
  }

  private read(
    state: ServerState,
    body: Readable,
    sink: TokenSink,
    ctl: AbortController,
    run: RunState,
  ): Promise<void> {
    const idleMs = this.config.modelServer.idleTimeoutMs;
    const stripper = new StopMarkerStripper();
    let ended = false;
    let failure: string | undefined;
    const reader: FrameReader = {
      text(delta) {
        run.frames++;
        if (run.firstTokenAt === undefined) {
          run.firstTokenAt = performance.now();
          clearTimeout(run.firstTokenTimer);
          run.idleTimer = setTimeout(() => ctl.abort(new GenerationAbort('idle')), idleMs);
        }
        const out = stripper.push(delta);
        if (out.length > 0) {
          run.emitted = true;
          sink.text(out);
        }
      },
      usage(prompt, completion) {
        run.promptTokens = prompt;
        run.completionTokens = completion;
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
      if (!ended && failure === undefined) client.readFrame(data, reader);
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: AttemptError): void => {
        if (settled) return;
        settled = true;
        body.destroy();
        reject(e);
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
        if (failure !== undefined) fail(new AttemptError(ErrorCode.E5006, `${state.label}: ${failure}`, true));
      });
      body.on('end', () => {
        if (settled) return;
        settled = true;
        if (!ended) {
          return reject(new AttemptError(ErrorCode.E5007, `${state.label}: stream ended without its end marker`, true));
        }
        const rest = stripper.flush();
        if (rest.length > 0) {
          run.emitted = true;
          sink.text(rest);
        }
        resolve();
      });
      body.on('error', (e: Error) => {
        if (settled) return;
        settled = true;
        if (ctl.signal.aborted) return reject(e);
        reject(new AttemptError(ErrorCode.E5007, `${state.label}: stream interrupted (${describeError(e)})`, true));
      });
    });
  }
}
