import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AuthPrincipal } from '../common/http/app-request';
import { AppLogger } from '../common/logging/json-logger';
import { Answered, CallContext } from '../common/ports/call-context';
import { UsageAnnotation } from '../common/ports/usage-annotation';
import { UserPreferences, UserPreferencesPort } from '../common/ports/user-preferences.port';
import { AppConfig } from '../config/app-config';
import { resolveAdapters, Task } from '../generation/adapters';
import { buildFimPrompt } from '../generation/fim-prompt';
import { GenerationService } from '../generation/generation.service';
import { FrontDoorWriter, GenerationOutcome, GenerationRequest } from '../generation/generation.types';
import { outcomeUsage } from '../generation/outcome-usage';
import { TextCollector } from '../generation/text-collector';
import { ModelServerPool } from '../model-server/model-server.pool';
import { UPSTREAM_STOP } from '../model-server/stop-markers';
import { CompleteCodeResponseDto, GenerateCodeResponseDto } from './dto/code-gen.responses';
import { CompleteCodeDto } from './dto/complete-code.dto';
import { GenerateCodeDto } from './dto/generate-code.dto';
import { buildPrompt, effectiveProfile, splitCodeAndExplanation } from './prompt-builder';
import { SafetyValidator } from './safety-validator';
import { SseDone } from './sse';

interface Prepared {
  task: Task;
  request: GenerationRequest;
  inputRules: string[];
}

const COMPLETION_DEFAULT_TOKENS = 64;

/**
 * The HAPA routes' rules: prompts from the request and the stored profile, safety checks, and the
 * response shapes of spec §2. Generation itself is the core's (GenerationService); HTTP is the controller's.
 */
@Injectable()
export class CodeGenService {
  readonly adapters: Record<Task, string>;

  constructor(
    private readonly config: AppConfig,
    private readonly generation: GenerationService,
    private readonly pool: ModelServerPool,
    private readonly safety: SafetyValidator,
    private readonly logger: AppLogger,
    private readonly preferences: UserPreferencesPort,
  ) {
    this.adapters = resolveAdapters(config.modelServer.adapterOverrides);
  }

  async generate(
    dto: GenerateCodeDto,
    principal: AuthPrincipal | undefined,
    ctx: CallContext,
  ): Promise<Answered<GenerateCodeResponseDto>> {
    const prepared = await this.prepare(dto, principal, ctx.requestId);
    ctx.annotate(preparedUsage(prepared, false));
    const answer = new TextCollector();
    const outcome = await this.generation.generate(
      { request: prepared.request, principal, cache: dto.cache !== false, stream: false, signal: ctx.signal },
      answer,
    );
    const completionId = `cmpl-${randomUUID()}`;
    const { code, explanation } = splitCodeAndExplanation(answer.text);
    const elapsedMs = sinceMs(ctx.startedAt);
    return {
      body: {
        success: true,
        status: 'success',
        generated_code: code,
        explanation,
        model_used: prepared.request.adapter,
        processing_time: Math.round(elapsedMs) / 1000,
        response_time_ms: Math.round(elapsedMs),
        token_usage: outcome.usage,
        cached: outcome.cached,
        request_id: ctx.requestId,
        completion_id: completionId,
        timestamp: new Date().toISOString(),
        error_message: '',
        security_info: this.safety.scanCode(code, prepared.inputRules),
      },
      usage: usageOf(prepared, outcome, false, completionId),
    };
  }

  /**
   * Streams the answer's deltas to `out` (the SSE front door frames them) and resolves with the
   * `done` event. The text is kept only for the safety scan that `done` reports.
   */
  async stream(
    dto: GenerateCodeDto,
    principal: AuthPrincipal | undefined,
    ctx: CallContext,
    out: FrontDoorWriter,
  ): Promise<{ done: SseDone; usage: UsageAnnotation }> {
    const prepared = await this.prepare(dto, principal, ctx.requestId);
    ctx.annotate(preparedUsage(prepared, true));
    let text = '';
    const outcome = await this.generation.generate(
      { request: prepared.request, principal, cache: dto.cache !== false, stream: true, signal: ctx.signal },
      {
        begin: (info) => out.begin?.(info),
        write(delta) {
          text += delta;
          return out.write(delta);
        },
        drained: () => out.drained(),
      },
    );
    const completionId = `cmpl-${randomUUID()}`;
    return {
      done: {
        type: 'done',
        token_usage: outcome.usage,
        model_used: prepared.request.adapter,
        completion_id: completionId,
        cached: outcome.cached,
        security_info: this.safety.scanCode(splitCodeAndExplanation(text).code, prepared.inputRules),
      },
      usage: usageOf(prepared, outcome, true, completionId),
    };
  }

  async complete(
    dto: CompleteCodeDto,
    principal: AuthPrincipal | undefined,
    ctx: CallContext,
  ): Promise<Answered<CompleteCodeResponseDto>> {
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
        requestId: ctx.requestId,
      },
    };
    ctx.annotate(preparedUsage(prepared, false));
    const answer = new TextCollector();
    const outcome = await this.generation.generate(
      { request: prepared.request, principal, cache: dto.cache !== false, stream: false, signal: ctx.signal },
      answer,
    );
    const completionId = `cmpl-${randomUUID()}`;
    const code = answer.text.replace(/\s+$/, '');
    const firstLine = code.split('\n').find((l) => l.trim() !== '') ?? '';
    return {
      body: {
        success: true,
        status: 'success',
        completions: code
          ? [{ code, label: firstLine.trim().slice(0, 80), description: `Completion from ${adapter}`, confidence: 0.9 }]
          : [],
        processing_time: Math.round(sinceMs(ctx.startedAt)) / 1000,
        cached: outcome.cached,
        completion_id: completionId,
        model_used: adapter,
        token_usage: outcome.usage,
      },
      usage: usageOf(prepared, outcome, false, completionId),
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

  private async prepare(
    dto: GenerateCodeDto,
    principal: AuthPrincipal | undefined,
    requestId: string,
  ): Promise<Prepared> {
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
        requestId,
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
    if (!principal) return undefined;
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
}

/** The usage event's fields known before generating: the task and the adapter that answers. */
function preparedUsage(prepared: Prepared, stream: boolean): UsageAnnotation {
  return { adapter: prepared.request.adapter, modelType: prepared.task, stream };
}

function usageOf(
  prepared: Prepared,
  outcome: GenerationOutcome,
  stream: boolean,
  completionId: string,
): UsageAnnotation {
  return { ...preparedUsage(prepared, stream), ...outcomeUsage(outcome), completionId };
}

const sinceMs = (startedAt: bigint): number => Number(process.hrtime.bigint() - startedAt) / 1e6;

/** The HAPA protocol wants an integer user id; ours are not, so only numeric ids pass. */
function hapaUserId(principal: AuthPrincipal | undefined): number {
  const n = principal ? Number(principal.userId) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
