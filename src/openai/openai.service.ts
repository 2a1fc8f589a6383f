import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { randomUUID } from 'node:crypto';
import type { Counter } from 'prom-client';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { TOOLS_NOT_SUPPORTED } from '../common/errors/openai-errors';
import { AuthPrincipal } from '../common/http/app-request';
import { Answered, CallContext } from '../common/ports/call-context';
import { UsageAnnotation } from '../common/ports/usage-annotation';
import { AppConfig } from '../config/app-config';
import { GenerationService } from '../generation/generation.service';
import { DeltaWriter, GenerationCall, GenerationOutcome, GenerationRequest } from '../generation/generation.types';
import { outcomeUsage } from '../generation/outcome-usage';
import { TextCollector } from '../generation/text-collector';
import { UPSTREAM_STOP } from '../model-server/stop-markers';
import { ChatMessage, readMessages, renderChat } from './chat-prompt';
import { ChatCompletionRequestDto, CompletionRequestDto, OpenAiSamplingDto } from './dto/openai-request.dto';
import {
  ChatCompletionResponseDto,
  CompletionResponseDto,
  OpenAiModelDto,
  OpenAiModelListDto,
} from './dto/openai-response.dto';
import { detectFim, FimMarkerStripper, renderFim, templateMarkers } from './fim-formats';
import { ModelCards } from './model-cards';
import { mayUse, OpenAiModelCatalog, ResolvedModel } from './openai-models';
import { OPENAI_TOOLS_IGNORED } from './openai.metrics';
import type { ChunkShape } from './openai-sse';
import { refuseForbiddenFields, samplingExtras } from './vllm-extras';

/** vLLM's own default is 16 tokens: far too few for any of these uses. */
const DEFAULT_MAX_TOKENS = { autocomplete: 128, other: 1024 };
const DEFAULT_TEMPERATURE = { autocomplete: 0.2, other: 0.3 };
const DEFAULT_TOP_P = 0.95;

/** One /v1 generation, checked and ready for the core; the HTTP side frames its answer from the public fields. */
export interface OpenAiCall {
  /** `cmpl-…` / `chatcmpl-…`: the answer's id in every chunk and in the usage event. */
  id: string;
  /** Unix seconds, in every chunk. */
  created: number;
  /** The model name the client sent, echoed in the answer. */
  model: string;
  /** The stream's chunk shape (/v1/fim/completions streams chat chunks). */
  shape: ChunkShape;
  stream: boolean;
  /** `stream_options.include_usage`: a usage chunk before [DONE]. */
  includeUsage: boolean;
  readonly prepared: Prepared;
}

interface Prepared {
  resolved: ResolvedModel;
  request: GenerationRequest;
  principal: AuthPrincipal | undefined;
  /** Non-stream answer object. */
  object: 'text_completion' | 'chat.completion';
  /** FIM markers removed from the answer (a FIM prompt, or include_stop_str_in_output). */
  stripFim: boolean;
}

/** A streamed answer's end: the core's outcome and the usage event's fields. */
export interface Streamed {
  outcome: GenerationOutcome;
  usage: UsageAnnotation;
}

/**
 * The `/v1` rules: turns OpenAI bodies into generation calls (model names and permissions, FIM
 * normalisation, chat rendering, sampling, refused fields) and shapes the answers. Generation, cache
 * and coalescing are the core's; status, SSE framing and in-stream errors are OpenAiResponder's.
 */
@Injectable()
export class OpenAiService {
  private readonly catalog: OpenAiModelCatalog;

  constructor(
    private readonly config: AppConfig,
    private readonly generation: GenerationService,
    private readonly cards: ModelCards,
    @InjectMetric(OPENAI_TOOLS_IGNORED) private readonly toolsIgnored: Counter,
  ) {
    this.catalog = new OpenAiModelCatalog(config.modelServer.adapterOverrides);
  }

  async listModels(principal: AuthPrincipal | undefined): Promise<OpenAiModelListDto> {
    const maxModelLen = await this.cards.maxModelLen();
    const created = Math.floor(Date.now() / 1000);
    return {
      object: 'list',
      data: this.catalog.usableBy(principal?.permissions ?? []).map((m) => ({
        id: m.id,
        object: 'model',
        created,
        owned_by: 'hapa',
        max_model_len: maxModelLen,
      })),
    };
  }

  async model(name: string, principal: AuthPrincipal | undefined): Promise<OpenAiModelDto> {
    const resolved = this.catalog.resolve(name);
    const listed = (await this.listModels(principal)).data.find((m) => m.id === resolved.model.id);
    if (!listed)
      throw new AppException(ErrorCode.E4005, { message: `Requires permission: ${resolved.model.permission}` });
    return { ...listed, id: name };
  }

  /**
   * POST /v1/completions, and /v1/fim/completions (`fim`: streams in the chat-chunk shape). `body` is
   * the request as sent, for the fields the gateway refuses.
   */
  completion(dto: CompletionRequestDto, principal: AuthPrincipal | undefined, body: unknown, fim = false): OpenAiCall {
    refuseForbiddenFields(body);
    refuseStreamOptionsWithoutStream(dto);
    const model = this.resolve(dto.model, principal);
    const autocomplete = model.task === 'code_completion';
    const template = this.config.modelServer.fimTemplates[model.adapter] ?? this.config.modelServer.fimTemplate;
    let prompt = dto.prompt;
    let isFim = false;
    if (dto.suffix !== undefined && dto.suffix !== null) {
      // vLLM rejects `suffix`: it travels inside the adapter's FIM template.
      prompt = renderFim(template, dto.prompt, dto.suffix);
      isFim = true;
    } else {
      const detected = detectFim(dto.prompt);
      if (detected) prompt = renderFim(template, detected.prefix, detected.suffix);
      else if (autocomplete || fim) prompt = renderFim(template, dto.prompt, '');
      isFim = detected !== undefined || autocomplete || fim;
    }
    const stop = [...UPSTREAM_STOP, ...(isFim ? templateMarkers(template) : [])];
    return newCall(dto, fim ? 'chat' : 'text_completion', {
      resolved: model,
      request: this.request(model, prompt, dto, dto.max_tokens ?? dto.max_completion_tokens, stop),
      principal,
      object: 'text_completion',
      stripFim: isFim || dto.include_stop_str_in_output === true,
    });
  }

  /** POST /v1/chat/completions: rendered in the adapters' format and sent to the completions route upstream. */
  chat(dto: ChatCompletionRequestDto, principal: AuthPrincipal | undefined, body: unknown): OpenAiCall {
    refuseForbiddenFields(body);
    refuseStreamOptionsWithoutStream(dto);
    checkToolChoice('tool_choice', dto.tool_choice);
    checkToolChoice('function_call', dto.function_call);
    if (dto.tools?.length || dto.functions?.length) this.toolsIgnored.inc();
    const messages: ChatMessage[] = readMessages(dto.messages);
    const model = this.resolve(dto.model, principal);
    const prompt = renderChat(model.task, messages);
    return newCall(dto, 'chat', {
      resolved: model,
      request: this.request(model, prompt, dto, dto.max_completion_tokens ?? dto.max_tokens, UPSTREAM_STOP),
      principal,
      object: 'chat.completion',
      stripFim: dto.include_stop_str_in_output === true,
    });
  }

  /** The whole answer as one completion object (`stream: false`). */
  async answer(
    call: OpenAiCall,
    ctx: CallContext,
  ): Promise<Answered<CompletionResponseDto | ChatCompletionResponseDto>> {
    ctx.annotate(callUsage(call));
    const collector = new TextCollector();
    const outcome = await this.generation.generate(generationCall(call, ctx), collector);
    const text = call.prepared.stripFim ? stripFim(collector.text) : collector.text;
    return { body: toDto(call, text, outcome), usage: usageOf(call, outcome) };
  }

  /**
   * Streams the answer's text to `out` (the HTTP side frames it), FIM markers removed and empty
   * deltas dropped, and resolves after the last delta with the outcome.
   */
  async stream(call: OpenAiCall, ctx: CallContext, out: DeltaWriter): Promise<Streamed> {
    ctx.annotate(callUsage(call));
    const stripper = call.prepared.stripFim ? new FimMarkerStripper() : undefined;
    const outcome = await this.generation.generate(generationCall(call, ctx), {
      write(delta) {
        const clean = stripper ? stripper.push(delta) : delta;
        return clean.length === 0 || out.write(clean);
      },
      drained: () => out.drained(),
    });
    const rest = stripper?.flush();
    if (rest) out.write(rest);
    return { outcome, usage: usageOf(call, outcome) };
  }

  private resolve(name: string, principal: AuthPrincipal | undefined): ResolvedModel {
    const model = this.catalog.resolve(name);
    if (principal && !mayUse(principal.permissions, model.model)) {
      throw new AppException(ErrorCode.E4005, { message: `Requires permission: ${model.model.permission}` });
    }
    return model;
  }

  private request(
    model: ResolvedModel,
    prompt: string,
    dto: OpenAiSamplingDto,
    maxTokens: number | undefined,
    adapterStop: readonly string[],
  ): GenerationRequest {
    const kind = model.task === 'code_completion' ? 'autocomplete' : 'other';
    // OpenAI accepts "" as a stop string; vLLM refuses the whole request for it.
    const clientStop = dto.stop === undefined ? [] : [dto.stop].flat().filter((s) => s !== '');
    return {
      adapter: model.adapter,
      prompt,
      temperature: dto.temperature ?? DEFAULT_TEMPERATURE[kind],
      topP: dto.top_p ?? DEFAULT_TOP_P,
      maxTokens: maxTokens ?? dto.options?.num_predict ?? DEFAULT_MAX_TOKENS[kind],
      stop: [...new Set([...clientStop, ...adapterStop])],
      extra: samplingExtras(dto as unknown as Record<string, unknown>),
    };
  }
}

const NO_CALL = ['auto', 'none'];

/**
 * Agent clients send tools on every request: they are ignored, and only a demand that a tool be called
 * is refused (tools_not_supported). A value OpenAI would not take either is a plain 400.
 */
function checkToolChoice(field: 'tool_choice' | 'function_call', choice: unknown): void {
  if (choice === undefined || choice === null) return;
  if (typeof choice === 'string' && NO_CALL.includes(choice)) return;
  const demanded = (): never => {
    throw new AppException(ErrorCode.E4006, {
      message: `Tool calls are not supported by this gateway (${field} must be "auto" or "none")`,
      details: [{ field, message: TOOLS_NOT_SUPPORTED }],
    });
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (field === 'function_call') {
    if (isObject(choice) && typeof choice.name === 'string') return demanded();
  } else if (choice === 'required') {
    return demanded();
  } else if (isObject(choice)) {
    if (choice.type === 'function' || choice.type === 'custom') return demanded();
    const allowed = choice.type === 'allowed_tools' && isObject(choice.allowed_tools) ? choice.allowed_tools : {};
    if (allowed.mode === 'auto') return;
    if (allowed.mode === 'required') return demanded();
  }
  const expected =
    field === 'function_call'
      ? '"auto", "none" or {"name": ...}'
      : '"auto", "none", "required", a named function or allowed_tools with mode "auto" or "required"';
  const message = `must be ${expected}`;
  throw new AppException(ErrorCode.E4006, { message: `${field}: ${message}`, details: [{ field, message }] });
}

/** OpenAI and vLLM refuse stream_options on an answer that is not streamed. */
function refuseStreamOptionsWithoutStream(dto: OpenAiSamplingDto): void {
  if (dto.stream_options === undefined || dto.stream === true) return;
  const message = 'only allowed when stream is true';
  throw new AppException(ErrorCode.E4006, {
    message: `stream_options: ${message}`,
    details: [{ field: 'stream_options', message }],
  });
}

function newCall(dto: OpenAiSamplingDto, shape: ChunkShape, prepared: Prepared): OpenAiCall {
  const prefix = prepared.object === 'chat.completion' ? 'chatcmpl' : 'cmpl';
  const stream = dto.stream === true;
  return {
    id: `${prefix}-${randomUUID().replace(/-/g, '')}`,
    created: Math.floor(Date.now() / 1000),
    model: prepared.resolved.requested,
    shape,
    stream,
    includeUsage: stream && dto.stream_options?.include_usage === true,
    prepared,
  };
}

function generationCall(call: OpenAiCall, ctx: CallContext): GenerationCall {
  const { request, principal } = call.prepared;
  return {
    request: { ...request, requestId: ctx.requestId },
    principal,
    cache: true,
    stream: call.stream,
    signal: ctx.signal,
  };
}

function stripFim(text: string): string {
  const stripper = new FimMarkerStripper();
  return stripper.push(text) + stripper.flush();
}

function toDto(
  call: OpenAiCall,
  text: string,
  outcome: GenerationOutcome,
): CompletionResponseDto | ChatCompletionResponseDto {
  const base = { id: call.id, created: call.created, model: call.model, usage: outcome.usage };
  if (call.prepared.object === 'chat.completion') {
    return {
      ...base,
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text },
          logprobs: null,
          finish_reason: outcome.finishReason,
        },
      ],
    };
  }
  return {
    ...base,
    object: 'text_completion',
    choices: [{ index: 0, text, logprobs: null, finish_reason: outcome.finishReason }],
  };
}

/** The usage event's fields known before generating: the model asked for and the adapter that answers. */
function callUsage(call: OpenAiCall): UsageAnnotation {
  const { resolved } = call.prepared;
  return {
    adapter: resolved.adapter,
    modelType: resolved.task,
    requestedModel: resolved.requested,
    stream: call.stream,
    completionId: call.id,
  };
}

function usageOf(call: OpenAiCall, outcome: GenerationOutcome): UsageAnnotation {
  return { ...callUsage(call), ...outcomeUsage(outcome) };
}
