import { Injectable, Optional } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import { Gauge } from 'prom-client';
import { Observable } from 'rxjs';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { clientGone } from '../common/http/request-pipeline';
import { AppRequest, AuthPrincipal } from '../common/http/app-request';
import { AppLogger } from '../common/logging/json-logger';
import { StreamSlotsPort } from '../common/ports/stream-slots.port';
import { annotateUsage } from '../common/ports/usage-annotation';
import { UserPreferences, UserPreferencesPort } from '../common/ports/user-preferences.port';
import { AppConfig } from '../config/app-config';
import { CachedAnswer } from '../cache/cache-types';
import { AnswerSource, ResponseCache } from '../cache/response-cache';
import { SharedGeneration } from '../cache/shared-generation';
import { resolveAdapters, Task } from '../generation/adapters';
import { ModelServerPool } from '../model-server/model-server.pool';
import { ClientGoneError } from '../model-server/model-server.service';
import { GenerationOutcome, GenerationRequest, TokenUsage } from '../model-server/model-server.types';
import { UPSTREAM_STOP } from '../model-server/stop-markers';
import { ACTIVE_STREAMS } from './code-gen.metrics';
import { CompleteCodeResponseDto, GenerateCodeResponseDto } from './dto/code-gen.responses';
import { CompleteCodeDto } from './dto/complete-code.dto';
import { GenerateCodeDto } from './dto/generate-code.dto';
import { buildFimPrompt } from '../generation/fim-prompt';
import { buildPrompt, effectiveProfile, splitCodeAndExplanation } from './prompt-builder';
import { SafetyValidator } from './safety-validator';
import { SseItem } from './sse';

interface Prepared {
  task: Task;
  request: GenerationRequest;
  inputRules: string[];
}

const COMPLETION_DEFAULT_TOKENS = 64;

@Injectable()
export class CodeGenService {
  readonly adapters: Record<Task, string>;

  constructor(
    private readonly config: AppConfig,
    private readonly cache: ResponseCache,
    private readonly pool: ModelServerPool,
    private readonly safety: SafetyValidator,
    private readonly logger: AppLogger,
    @InjectMetric(ACTIVE_STREAMS) private readonly activeStreams: Gauge,
    @Optional() private readonly preferences?: UserPreferencesPort,
    @Optional() private readonly streamSlots?: StreamSlotsPort,
  ) {
    this.adapters = resolveAdapters(config.modelServer.adapterOverrides);
  }

  async generate(
    dto: GenerateCodeDto,
    principal: AuthPrincipal | undefined,
    req: AppRequest,
    res: Response,
  ): Promise<GenerateCodeResponseDto> {
    const client = watchClient(res);
    const prepared = await this.prepare(dto, principal);
    prepared.request.requestId = req.id;
    const answer = await this.answer(prepared, this.cache.keyFor(prepared.request, dto.cache), client);
    if (!answer) return undefined as never; // nobody is left to answer
    const completionId = `cmpl-${randomUUID()}`;
    const { code, explanation } = splitCodeAndExplanation(answer.text);
    const security = this.safety.scanCode(code, prepared.inputRules);
    const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
    this.record(res, prepared, answer, false, completionId, elapsedMs, 'generate');
    return {
      success: true,
      status: 'success',
      generated_code: code,
      explanation,
      model_used: prepared.request.adapter,
      processing_time: Math.round(elapsedMs) / 1000,
      response_time_ms: Math.round(elapsedMs),
      token_usage: answer.usage,
      cached: answer.cached,
      request_id: req.id,
      completion_id: completionId,
      timestamp: new Date().toISOString(),
      error_message: '',
      security_info: security,
    };
  }

  /**
   * Token deltas, then a `done` item; the SSE interceptor frames them. A cached answer is replayed
   * delta by delta. Unsubscribing detaches from the (possibly shared) generation, which aborts
   * upstream when no other client waits on it.
   */
  stream(
    dto: GenerateCodeDto,
    principal: AuthPrincipal | undefined,
    req: AppRequest,
    res: Response,
  ): Observable<SseItem> {
    return new Observable<SseItem>((sub) => {
      let closed = false;
      let finished = false;
      let detach: (() => void) | undefined;
      let stopWaiting: (() => void) | undefined;
      let release: (() => void) | undefined;
      let counted = false;
      const run = async (): Promise<void> => {
        const prepared = await this.prepare(dto, principal);
        prepared.request.requestId = req.id;
        if (principal && this.streamSlots) release = await this.streamSlots.acquire(principal);
        if (closed) return;
        const source = await this.cache.open(this.cache.keyFor(prepared.request, dto.cache), prepared.request, true);
        if (closed) {
          if (source.kind === 'generation' && !source.joined) source.generation.drop();
          return;
        }
        const cached = isCached(source);
        res.locals.sseCached = cached;
        this.activeStreams.inc();
        counted = true;
        const done = (usage: TokenUsage, deltas: readonly string[], outcome?: GenerationOutcome): void => {
          const completionId = `cmpl-${randomUUID()}`;
          const security = this.safety.scanCode(splitCodeAndExplanation(deltas.join('')).code, prepared.inputRules);
          const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
          this.record(res, prepared, { usage, cached, outcome }, true, completionId, elapsedMs);
          sub.next({
            type: 'done',
            token_usage: usage,
            model_used: prepared.request.adapter,
            completion_id: completionId,
            cached,
            security_info: security,
          });
          sub.complete();
        };
        if (source.kind === 'stored') {
          for (const delta of source.answer.deltas) sub.next(delta);
          return done(source.answer.usage, source.answer.deltas);
        }
        await new Promise<void>((resolve, reject) => {
          stopWaiting = resolve;
          detach = source.generation.attach({
            token: (delta) => sub.next(delta),
            end: (outcome, deltas) => {
              done(outcome.usage, deltas, outcome);
              resolve();
            },
            fail: reject,
          });
        });
      };
      run()
        .catch((e: unknown) => sub.error(e))
        .finally(() => {
          finished = true;
          release?.();
          if (counted) this.activeStreams.dec();
        });
      return () => {
        closed = true;
        if (finished) return;
        detach?.();
        // A detached listener is never settled: stop waiting so run() reaches its finally (slot, gauge).
        stopWaiting?.();
      };
    });
  }

  async complete(
    dto: CompleteCodeDto,
    principal: AuthPrincipal | undefined,
    req: AppRequest,
    res: Response,
  ): Promise<CompleteCodeResponseDto> {
    const client = watchClient(res);
    this.checkLanguage(dto.language);
    const adapter = this.adapters.code_completion;
    const template = this.config.modelServer.fimTemplates[adapter] ?? this.config.modelServer.fimTemplate;
    const prepared: Prepared = {
      task: 'code_completion',
      inputRules: [],
      request: {
        adapter,
        // vLLM rejects `suffix`: the suffix travels inside the FIM prompt only.
        prompt: buildFimPrompt(template, dto.prefix, dto.suffix ?? ''),
        temperature: 0.2,
        topP: 0.95,
        maxTokens: dto.max_tokens ?? COMPLETION_DEFAULT_TOKENS,
        stop: UPSTREAM_STOP,
        hapaUserId: hapaUserId(principal),
        requestId: req.id,
      },
    };
    const answer = await this.answer(prepared, this.cache.keyFor(prepared.request, dto.cache), client);
    if (!answer) return undefined as never;
    const completionId = `cmpl-${randomUUID()}`;
    const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
    this.record(res, prepared, answer, false, completionId, elapsedMs, 'complete');
    const text = answer.text;
    const code = text.replace(/\s+$/, '');
    const firstLine = code.split('\n').find((l) => l.trim() !== '') ?? '';
    return {
      success: true,
      status: 'success',
      completions: code
        ? [{ code, label: firstLine.trim().slice(0, 80), description: `Completion from ${adapter}`, confidence: 0.9 }]
        : [],
      processing_time: Math.round(elapsedMs) / 1000,
      cached: answer.cached,
      completion_id: completionId,
      model_used: adapter,
      token_usage: answer.usage,
    };
  }

  async listModels(): Promise<Record<string, unknown>> {
    const listed = await this.pool.listModels();
    const adapters = [...new Set(Object.values(this.adapters))];
    return {
      available_models: listed.length > 0 ? listed : adapters,
      model_mapping: this.adapters,
      adapters,
      default_model: this.adapters.code_generation,
      servers: this.pool.all.map((s) => ({ protocol: s.server.protocol, healthy: s.healthy })),
    };
  }

  async health(): Promise<{ status: 'healthy' | 'unhealthy'; details: unknown }> {
    const r = await this.pool.check();
    return { status: r.available ? 'healthy' : 'unhealthy', details: r };
  }

  private async prepare(dto: GenerateCodeDto, principal: AuthPrincipal | undefined): Promise<Prepared> {
    const userPrompt = dto.prompt ?? dto.user_question;
    if (userPrompt === undefined) {
      throw new AppException(ErrorCode.E4002, {
        message: 'Missing required field(s)',
        details: [{ field: 'prompt', message: 'prompt (or user_question) is required' }],
      });
    }
    this.checkLanguage(dto.language);
    const context = dto.context ?? dto.code_context;
    const inputRules = this.safety.checkInput(userPrompt, context);
    const task = dto.model_type ?? 'code_generation';
    const stored = await this.storedPreferences(principal);
    const built = buildPrompt(task, dto, userPrompt, effectiveProfile(dto, stored));
    return {
      task,
      inputRules,
      request: {
        adapter: this.adapters[task],
        prompt: built.prompt,
        temperature: built.temperature,
        topP: built.topP,
        maxTokens: built.maxTokens,
        stop: built.stop,
        hapaUserId: hapaUserId(principal),
      },
    };
  }

  private checkLanguage(language: string | undefined): void {
    if (language !== undefined && language.trim().toLowerCase() !== 'python') {
      throw new AppException(ErrorCode.E4007, {
        details: [{ field: 'language', message: `unsupported language "${language.slice(0, 50)}"; only python` }],
      });
    }
  }

  private async storedPreferences(principal: AuthPrincipal | undefined): Promise<UserPreferences | undefined> {
    if (!principal || !this.preferences) return undefined;
    try {
      return await this.preferences.forUser(principal.userId);
    } catch (e) {
      // Generation goes on with defaults; the profile store reports its own failures.
      this.logger.write('warn', 'stored preferences unavailable', {
        error: e instanceof Error ? e.message : String(e),
      });
      return undefined;
    }
  }

  /**
   * A one-shot answer: stored, or from a generation this request starts or joins. Undefined when
   * the client left first (its leaving aborts the upstream request if nobody else waits on it).
   */
  private async answer(prepared: Prepared, key: string | undefined, client: ClientWatch): Promise<Answer | undefined> {
    const source = await this.cache.open(key, prepared.request, false);
    if (source.kind === 'stored') return fromStored(source.answer);
    if (client.gone) {
      if (!source.joined) source.generation.drop();
      return undefined;
    }
    try {
      return await this.await(source.generation, client, isCached(source));
    } catch (e) {
      if (e instanceof ClientGoneError) return undefined;
      throw e;
    }
  }

  /** Waits for a generation's end, at most REQUEST_TIMEOUT; leaving (client gone, timeout) detaches. */
  private await(generation: SharedGeneration, client: ClientWatch, cached: boolean): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      let detach: () => void = () => undefined;
      const timer = setTimeout(() => {
        settle();
        detach();
        reject(new AppException(ErrorCode.E5001, { message: 'The AI model took too long' }));
      }, this.config.http.requestTimeoutMs);
      const unwatch = client.onGone(() => {
        settle();
        detach();
        reject(new ClientGoneError());
      });
      const settle = (): void => {
        clearTimeout(timer);
        unwatch();
      };
      detach = generation.attach({
        end: (outcome, deltas) => {
          settle();
          resolve({ text: deltas.join(''), usage: outcome.usage, cached, outcome });
        },
        fail: (e) => {
          settle();
          reject(e);
        },
      });
    });
  }

  private record(
    res: Response,
    prepared: Prepared,
    answer: Pick<Answer, 'usage' | 'cached' | 'outcome'>,
    stream: boolean,
    completionId: string,
    elapsedMs: number,
    route?: 'generate' | 'complete',
  ): void {
    const adapter = prepared.request.adapter;
    const outcome = answer.cached ? undefined : answer.outcome;
    // A cached answer spent no model tokens and waited on no upstream of its own.
    annotateUsage(res, {
      adapter,
      modelType: prepared.task,
      ...(outcome && {
        promptTokens: outcome.usage.prompt_tokens,
        completionTokens: outcome.usage.completion_tokens,
        ttftMs: Math.round(outcome.ttftMs),
        upstreamMs: Math.round(outcome.upstreamMs),
      }),
      cached: answer.cached,
      stream,
      completionId,
    });
    if (route) {
      const overheadMs = Math.max(0, elapsedMs - (outcome?.upstreamMs ?? 0));
      res.setHeader('X-HAPA-Overhead-Ms', overheadMs.toFixed(2));
    }
  }
}

interface Answer {
  text: string;
  usage: TokenUsage;
  /** Served from the store or by joining another request's generation. */
  cached: boolean;
  /** The upstream outcome, when this request's answer came from a generation. */
  outcome?: GenerationOutcome;
}

function fromStored(stored: CachedAnswer): Answer {
  return { text: stored.deltas.join(''), usage: stored.usage, cached: true };
}

function isCached(source: AnswerSource): boolean {
  return source.kind === 'stored' || source.joined;
}

interface ClientWatch {
  readonly gone: boolean;
  /** Calls `cb` when the client disconnects before the response is finished; returns an unsubscribe. */
  onGone(cb: () => void): () => void;
}

/** Watches for the client leaving from the start, so a disconnect during preparation is not missed. */
function watchClient(res: Response): ClientWatch {
  // The client may have left while guards and pipes ran: its close event has fired already.
  let gone = clientGone(res);
  const callbacks = new Set<() => void>();
  res.once('close', () => {
    if (res.writableFinished) return;
    gone = true;
    for (const cb of callbacks) cb();
  });
  return {
    get gone() {
      return gone;
    },
    onGone(cb) {
      if (gone) {
        cb();
        return () => undefined;
      }
      callbacks.add(cb);
      return () => callbacks.delete(cb);
    },
  };
}

/** The HAPA protocol wants an integer user id; ours are not, so only numeric ids pass. */
function hapaUserId(principal: AuthPrincipal | undefined): number {
  const n = principal ? Number(principal.userId) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
