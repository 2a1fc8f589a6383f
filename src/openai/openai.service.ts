import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { Counter } from 'prom-client';
import { errorEvent, mapException } from '../common/errors/all-exceptions.filter';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { ErrorReporter } from '../common/errors/error-reporter';
import { newIncidentId } from '../common/errors/incident-id';
import { AppRequest, AuthPrincipal } from '../common/http/app-request';
import { clientSignal, drainedOrClosed } from '../common/http/request-pipeline';
import { ServerLifecycle } from '../common/http/server-lifecycle';
import { annotateUsage } from '../common/ports/usage-annotation';
import { AppConfig } from '../config/app-config';
import { ClientGoneError, ClientStalledError } from '../generation/generation.errors';
import { GenerationService } from '../generation/generation.service';
import { TextCollector } from '../generation/text-collector';
import { GenerationOutcome, GenerationRequest } from '../generation/generation.types';
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
import { streamErrorFrames, toOpenAiError, TOOLS_NOT_SUPPORTED } from '../common/errors/openai-errors';
import { ChunkFramer, ChunkShape, SSE_DONE, SSE_HEADERS } from './openai-sse';
import { refuseForbiddenFields, samplingExtras } from './vllm-extras';

/** vLLM's own default is 16 tokens: far too few for any of these uses. */
const DEFAULT_MAX_TOKENS = { autocomplete: 128, other: 1024 };
const DEFAULT_TEMPERATURE = { autocomplete: 0.2, other: 0.3 };
const DEFAULT_TOP_P = 0.95;

/** One /v1 generation, ready for the core. */
interface Prepared {
  model: ResolvedModel;
  request: GenerationRequest;
  shape: ChunkShape;
  /** Non-stream answer object. */
  object: 'text_completion' | 'chat.completion';
  stream: boolean;
  includeUsage: boolean;
  /** FIM markers removed from the answer (a FIM prompt, or include_stop_str_in_output). */
  stripFim: boolean;
}

/**
 * The OpenAI-compatible front door: turns `/v1` bodies into generation calls (model names, FIM
 * normalisation, chat rendering, sampling), then owns everything HTTP about the answer: status,
 * SSE framing, in-stream errors, usage annotation. Generation, cache and coalescing are the core's.
 */
@Injectable()
export class OpenAiService {
  private readonly catalog: OpenAiModelCatalog;

  constructor(
    private readonly config: AppConfig,
    private readonly generation: GenerationService,
    private readonly cards: ModelCards,
    private readonly reporter: ErrorReporter,
    private readonly lifecycle: ServerLifecycle,
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

  /** POST /v1/completions, and /v1/fim/completions (`fim`: streams in the chat-chunk shape). */
  completion(
    dto: CompletionRequestDto,
    principal: AuthPrincipal | undefined,
    req: AppRequest,
    res: Response,
    fim = false,
  ): Promise<void> {
    refuseForbiddenFields(req.body);
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
    return this.run(
      {
        model,
        request: this.request(model, prompt, dto, dto.max_tokens ?? dto.max_completion_tokens, stop),
        shape: fim ? 'chat' : 'text_completion',
        object: 'text_completion',
        stream: dto.stream === true,
        includeUsage: dto.stream === true && dto.stream_options?.include_usage === true,
        stripFim: isFim || dto.include_stop_str_in_output === true,
      },
      req,
      res,
    );
  }

  /** POST /v1/chat/completions: rendered in the adapters' format and sent to the completions route upstream. */
  chat(
    dto: ChatCompletionRequestDto,
    principal: AuthPrincipal | undefined,
    req: AppRequest,
    res: Response,
  ): Promise<void> {
    refuseForbiddenFields(req.body);
    refuseRequiredTools(dto.tool_choice);
    if (Array.isArray(dto.tools) && dto.tools.length > 0) this.toolsIgnored.inc();
    const messages: ChatMessage[] = readMessages(dto.messages);
    const model = this.resolve(dto.model, principal);
    const prompt = renderChat(model.task, messages);
    return this.run(
      {
        model,
        request: this.request(model, prompt, dto, dto.max_completion_tokens ?? dto.max_tokens, UPSTREAM_STOP),
        shape: 'chat',
        object: 'chat.completion',
        stream: dto.stream === true,
        includeUsage: dto.stream === true && dto.stream_options?.include_usage === true,
        stripFim: dto.include_stop_str_in_output === true,
      },
      req,
      res,
    );
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
    const clientStop = dto.stop === undefined ? [] : [dto.stop].flat();
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

  private async run(p: Prepared, req: AppRequest, res: Response): Promise<void> {
    p.request.requestId = req.id;
    // A forced shutdown ends the stream like a disconnect does, but the client still gets an in-stream E5008.
    const shutdown = new AbortController();
    const unregister = this.lifecycle.onDeadline(() => shutdown.abort());
    const signal = AbortSignal.any([clientSignal(res), shutdown.signal]);
    const id = `${p.object === 'chat.completion' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    const framer = new ChunkFramer(p.shape, id, created, p.model.requested);
    const stripper = p.stripFim ? new FimMarkerStripper() : undefined;
    const collector = new TextCollector();
    let started = false;
    const start = (): void => {
      if (started) return;
      started = true;
      res.writeHead(200, SSE_HEADERS);
    };
    // Frames written in one event-loop turn (several tokens of one upstream chunk) leave in one writev.
    let corked = false;
    const uncork = (): void => {
      corked = false;
      res.uncork();
    };
    const out = p.stream
      ? {
          write: (delta: string): boolean => {
            const clean = stripper ? stripper.push(delta) : delta;
            if (clean.length === 0) return true;
            start();
            if (!corked) {
              corked = true;
              res.cork();
              process.nextTick(uncork);
            }
            return res.write(framer.token(clean));
          },
          drained: () => drainedOrClosed(res),
        }
      : collector;
    try {
      const outcome = await this.generation.generate(
        { request: p.request, principal: req.principal, cache: true, stream: p.stream, signal },
        out,
      );
      this.annotate(res, p, outcome, id);
      if (p.stream) {
        const rest = stripper?.flush() ?? '';
        start();
        let tail = rest ? framer.token(rest) : '';
        tail += framer.finish(outcome.finishReason);
        if (p.includeUsage) tail += framer.usage(outcome.usage);
        res.end(tail + SSE_DONE);
      } else {
        const text = stripper ? stripper.push(collector.text) + stripper.flush() : collector.text;
        res.status(200).json(this.answer(p, id, created, text, outcome));
      }
    } catch (e) {
      const shuttingDown = shutdown.signal.aborted;
      const error = shuttingDown ? new AppException(ErrorCode.E5008, { message: 'Server is shutting down' }) : e;
      if (error instanceof ClientGoneError || (signal.aborted && !shuttingDown)) {
        // Nobody is left to answer; the core aborted the upstream call unless others wait on it.
        if (!res.writableEnded) res.end();
        return;
      }
      if (error instanceof ClientStalledError && res.headersSent) {
        // Nobody is reading: drop the connection rather than queue an error frame behind a full buffer.
        res.destroy();
        return;
      }
      if (!res.headersSent) throw error;
      // The stream has started: the error goes in-band, then [DONE], so clients raise instead of keeping a truncated answer.
      const mapped = mapException(error);
      const incidentId = newIncidentId();
      this.reporter.report(errorEvent(req, mapped, incidentId, error));
      res.end(streamErrorFrames(toOpenAiError(mapped), incidentId));
    } finally {
      unregister();
    }
  }

  private answer(
    p: Prepared,
    id: string,
    created: number,
    text: string,
    outcome: GenerationOutcome,
  ): CompletionResponseDto | ChatCompletionResponseDto {
    const base = { id, created, model: p.model.requested, usage: outcome.usage };
    if (p.object === 'chat.completion') {
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

  private annotate(res: Response, p: Prepared, outcome: GenerationOutcome, completionId: string): void {
    // A cached answer spent no model tokens and waited on no upstream of its own.
    const fresh = !outcome.cached;
    annotateUsage(res, {
      adapter: p.model.adapter,
      modelType: p.model.task,
      requestedModel: p.model.requested,
      ...(fresh && {
        promptTokens: outcome.usage.prompt_tokens,
        completionTokens: outcome.usage.completion_tokens,
        ttftMs: Math.round(outcome.ttftMs),
        upstreamMs: Math.round(outcome.upstreamMs),
      }),
      cached: outcome.cached,
      stream: p.stream,
      completionId,
    });
  }
}

/** Agent clients send tools on every request; only a demand that a tool be called is refused. */
function refuseRequiredTools(toolChoice: unknown): void {
  const named = typeof toolChoice === 'object' && toolChoice !== null;
  if (toolChoice === 'required' || named) {
    throw new AppException(ErrorCode.E4006, {
      message: 'Tool calls are not supported by this gateway (tool_choice must be "auto" or "none")',
      details: [{ field: 'tool_choice', message: TOOLS_NOT_SUPPORTED }],
    });
  }
}
