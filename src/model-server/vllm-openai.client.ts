import { FrameReader, GenerationRequest, ModelProtocolClient } from './model-server.types';

interface OpenAiChunk {
  object?: string;
  message?: unknown;
  error?: unknown;
  choices?: {
    text?: string;
    delta?: { content?: string | null };
    message?: { content?: string | null };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

const MAX_DETAIL = 500;

/** vLLM's OpenAI-compatible server: /v1/completions with the adapter as `model` (spec §5). */
export class VllmOpenAiClient implements ModelProtocolClient {
  readonly protocol = 'openai' as const;
  readonly modelsPath = '/v1/models';

  streamRequest(req: GenerationRequest): { path: string; body: string } {
    return {
      path: '/v1/completions',
      body: JSON.stringify({ ...completion(req), stream: true, stream_options: { include_usage: true } }),
    };
  }

  completeRequest(req: GenerationRequest): { path: string; body: string } {
    return { path: '/v1/completions', body: JSON.stringify(completion(req)) };
  }

  readCompletion(body: string): {
    text: string;
    promptTokens?: number;
    completionTokens?: number;
    finishReason?: string;
  } {
    const answer = JSON.parse(body) as OpenAiChunk;
    const error = vllmErrorMessage(answer);
    if (error !== undefined) throw new Error(error);
    const choice = answer.choices?.[0];
    const text = choice?.text ?? choice?.delta?.content ?? choice?.message?.content;
    if (typeof text !== 'string') throw new Error('answer without choices[0].text');
    return {
      text,
      promptTokens: answer.usage?.prompt_tokens,
      completionTokens: answer.usage?.completion_tokens,
      finishReason: choice?.finish_reason ?? undefined,
    };
  }

  readFrame(data: string, reader: FrameReader): void {
    if (data === '[DONE]') return reader.end();
    if (readTokenFrame(data, reader)) return;
    const chunk = JSON.parse(data) as OpenAiChunk;
    const error = vllmErrorMessage(chunk);
    if (error !== undefined) return reader.fail(error);
    const choice = chunk.choices?.[0];
    if (choice) {
      const text = choice.text ?? choice.delta?.content;
      if (text) reader.text(text);
      if (choice.finish_reason) reader.finish(choice.finish_reason);
    }
    if (chunk.usage) reader.usage(chunk.usage.prompt_tokens ?? 0, chunk.usage.completion_tokens ?? 0);
  }

  errorMessage(status: number, body: string): string {
    const detail = this.errorDetail(body);
    return detail === undefined ? `HTTP ${status}` : `HTTP ${status}: ${detail.slice(0, 200)}`;
  }

  errorDetail(body: string): string | undefined {
    try {
      return vllmErrorMessage(JSON.parse(body) as OpenAiChunk);
    } catch {
      return undefined; // not JSON
    }
  }

  readModels(body: unknown): string[] {
    const data = (body as { data?: { id?: unknown }[] } | null)?.data;
    return Array.isArray(data) ? data.map((d) => d.id).filter((id): id is string => typeof id === 'string') : [];
  }
}

/**
 * The message of a vLLM error body in either shape: `{"error":{"message",…}}` (current) or
 * `{"object":"error","message",…}` (older); undefined when the body is no error.
 */
export function vllmErrorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as OpenAiChunk;
  if (b.error !== undefined && b.error !== null) {
    const nested = (b.error as { message?: unknown }).message;
    if (typeof nested === 'string') return nested.slice(0, MAX_DETAIL);
    if (typeof b.error === 'string') return b.error.slice(0, MAX_DETAIL);
    return 'model server reported an error';
  }
  if (b.object === 'error') {
    return typeof b.message === 'string' ? b.message.slice(0, MAX_DETAIL) : 'model server reported an error';
  }
  return undefined;
}

const TEXT_KEY = '"choices":[{"index":0,"text":"';
const FINISH_KEY = '"finish_reason":';

/**
 * The common frame — one choice with its text, no usage, no error — read with string operations
 * instead of a JSON.parse of the whole chunk; false (nothing read) for any other shape.
 */
export function readTokenFrame(data: string, reader: FrameReader): boolean {
  const at = data.indexOf(TEXT_KEY);
  if (at === -1 || data.indexOf('"usage":{') !== -1 || data.indexOf('"error"') !== -1) return false;
  const start = at + TEXT_KEY.length;
  let end = start;
  let escaped = false;
  for (;;) {
    const quote = data.indexOf('"', end);
    if (quote === -1) return false;
    const backslash = data.indexOf('\\', end);
    if (backslash === -1 || backslash > quote) {
      end = quote;
      break;
    }
    escaped = true;
    end = backslash + 2; // the escaped character, whatever it is
  }
  const text = escaped ? (JSON.parse(data.slice(start - 1, end + 1)) as string) : data.slice(start, end);
  const finishAt = data.indexOf(FINISH_KEY, end);
  if (finishAt === -1) return false;
  if (text) reader.text(text);
  const f = finishAt + FINISH_KEY.length;
  if (data.charCodeAt(f) === 34 /* " */) reader.finish(data.slice(f + 1, data.indexOf('"', f + 1)));
  return true;
}

function completion(req: GenerationRequest) {
  // Extras first: the gateway's own fields always win.
  return {
    ...req.extra,
    model: req.adapter,
    prompt: req.prompt,
    max_tokens: req.maxTokens,
    temperature: req.temperature,
    top_p: req.topP,
    stop: req.stop,
  };
}
