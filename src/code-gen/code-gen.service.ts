import { Injectable, Optional } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import { Gauge } from 'prom-client';
import { Observable } from 'rxjs';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppRequest, AuthPrincipal } from '../common/http/app-request';
import { AppLogger } from '../common/logging/json-logger';
import { StreamSlotsPort } from '../common/ports/stream-slots.port';
import { annotateUsage } from '../common/ports/usage-annotation';
import { UserPreferences, UserPreferencesPort } from '../common/ports/user-preferences.port';
import { AppConfig } from '../config/app-config';
import { resolveAdapters, Task } from '../model-server/adapters';
import { ModelServerPool } from '../model-server/model-server.pool';
import { ClientGoneError, GenerationAbort, ModelServerService } from '../model-server/model-server.service';
import { GenerationOutcome, GenerationRequest } from '../model-server/model-server.types';
import { UPSTREAM_STOP } from '../model-server/stop-markers';
import { ACTIVE_STREAMS } from './code-gen.metrics';
import { CompleteCodeResponseDto, GenerateCodeResponseDto } from './dto/code-gen.responses';
import { CompleteCodeDto } from './dto/complete-code.dto';
import { GenerateCodeDto } from './dto/generate-code.dto';
import { buildFimPrompt, buildPrompt, effectiveProfile, splitCodeAndExplanation } from './prompt-builder';
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
    private readonly models: ModelServerService,
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
    const prepared = await this.prepare(dto, principal);
    const ctl = this.abortOnClose(res);
    const completionId = `cmpl-${randomUUID()}`;
    const acc = {
      text: '',
      push(delta: string) {
        this.text += delta;
      },
    };
    let outcome: GenerationOutcome;
    try {
      outcome = await this.models.generate(
        prepared.request,
        { text: (d) => acc.push(d), reset: () => (acc.text = '') },
        ctl,
        { totalTimeoutMs: this.config.http.requestTimeoutMs },
      );
    } catch (e) {
      // Nobody is left to answer; the upstream request is already aborted.
      if (e instanceof ClientGoneError) return undefined as never;
      throw e;
    }
    const { code, explanation } = splitCodeAndExplanation(acc.text);
    const security = this.safety.scanCode(code, prepared.inputRules);
    const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
    this.record(res, prepared, outcome, false, completionId, elapsedMs, 'generate');
    return {
      success: true,
      status: 'success',
      generated_code: code,
      explanation,
      model_used: prepared.request.adapter,
      processing_time: Math.round(elapsedMs) / 1000,
      response_time_ms: Math.round(elapsedMs),
      token_usage: outcome.usage,
      cached: false,
      request_id: req.id,
      completion_id: completionId,
      timestamp: new Date().toISOString(),
      error_message: '',
      security_info: security,
    };
  }

  /** Token deltas, then a `done` item; the SSE interceptor frames them. Unsubscribing aborts upstream. */
  stream(
    dto: GenerateCodeDto,
    principal: AuthPrincipal | undefined,
    req: AppRequest,
    res: Response,
  ): Observable<SseItem> {
    return new Observable<SseItem>((sub) => {
      const ctl = new AbortController();
      let finished = false;
      let release: (() => void) | undefined;
      let counted = false;
      const run = async (): Promise<void> => {
        const prepared = await this.prepare(dto, principal);
        if (principal && this.streamSlots) release = await this.streamSlots.acquire(principal);
        if (ctl.signal.aborted) return;
        this.activeStreams.inc();
        counted = true;
        const completionId = `cmpl-${randomUUID()}`;
        let text = '';
        const outcome = await this.models.generate(
          prepared.request,
          {
            text(delta) {
              text += delta;
              sub.next(delta);
            },
          },
          ctl,
        );
        const security = this.safety.scanCode(splitCodeAndExplanation(text).code, prepared.inputRules);
        const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
        this.record(res, prepared, outcome, true, completionId, elapsedMs);
        sub.next({
          type: 'done',
          token_usage: outcome.usage,
          model_used: prepared.request.adapter,
          completion_id: completionId,
          security_info: security,
        });
        sub.complete();
      };
      run()
        .catch((e: unknown) => sub.error(e))
        .finally(() => {
          finished = true;
          release?.();
          if (counted) this.activeStreams.dec();
        });
      return () => {
        if (!finished) ctl.abort(new GenerationAbort('client'));
      };
    });
  }

  async complete(
    dto: CompleteCodeDto,
    principal: AuthPrincipal | undefined,
    req: AppRequest,
    res: Response,
  ): Promise<CompleteCodeResponseDto> {
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
      },
    };
    const ctl = this.abortOnClose(res);
    const completionId = `cmpl-${randomUUID()}`;
    let text = '';
    let outcome: GenerationOutcome;
    try {
      outcome = await this.models.generate(
        prepared.request,
        { text: (d) => (text += d), reset: () => (text = '') },
        ctl,
        { totalTimeoutMs: this.config.http.requestTimeoutMs },
      );
    } catch (e) {
      if (e instanceof ClientGoneError) return undefined as never;
      throw e;
    }
    const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
    this.record(res, prepared, outcome, false, completionId, elapsedMs, 'complete');
    const code = text.replace(/\s+$/, '');
    const firstLine = code.split('\n').find((l) => l.trim() !== '') ?? '';
    return {
      success: true,
      status: 'success',
      completions: code
        ? [{ code, label: firstLine.trim().slice(0, 80), description: `Completion from ${adapter}`, confidence: 0.9 }]
        : [],
      processing_time: Math.round(elapsedMs) / 1000,
      cached: false,
      completion_id: completionId,
      model_used: adapter,
      token_usage: outcome.usage,
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

  private abortOnClose(res: Response): AbortController {
    const ctl = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) ctl.abort(new GenerationAbort('client'));
    });
    return ctl;
  }

  private record(
    res: Response,
    prepared: Prepared,
    outcome: GenerationOutcome,
    stream: boolean,
    completionId: string,
    elapsedMs: number,
    route?: 'generate' | 'complete',
  ): void {
    const adapter = prepared.request.adapter;
    annotateUsage(res, {
      adapter,
      modelType: prepared.task,
      promptTokens: outcome.usage.prompt_tokens,
      completionTokens: outcome.usage.completion_tokens,
      ttftMs: Math.round(outcome.ttftMs),
      upstreamMs: Math.round(outcome.upstreamMs),
      cached: false,
      stream,
      completionId,
    });
    if (route) {
      const overheadMs = Math.max(0, elapsedMs - outcome.upstreamMs);
      res.setHeader('X-HAPA-Overhead-Ms', overheadMs.toFixed(2));
    }
  }
}

/** The HAPA protocol wants an integer user id; ours are not, so only numeric ids pass. */
function hapaUserId(principal: AuthPrincipal | undefined): number {
  const n = principal ? Number(principal.userId) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
