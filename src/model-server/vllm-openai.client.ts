import { FrameReader, GenerationRequest, ModelProtocolClient } from './model-server.types';

interface OpenAiChunk {
  object?: string;
  message?: string;
  error?: unknown;
  choices?: { text?: string; delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

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

  readCompletion(body: string): { text: string; promptTokens?: number; completionTokens?: number } {
    const answer = JSON.parse(body) as OpenAiChunk;
    if (answer.object === 'error' || answer.error !== undefined) {
      throw new Error(typeof answer.message === 'string' ? answer.message : 'model server reported an error');
    }
    const choice = answer.choices?.[0];
    const text =
      choice?.text ?? choice?.delta?.content ?? (choice as { message?: { content?: string } })?.message?.content;
    if (typeof text !== 'string') throw new Error('answer without choices[0].text');
    return { text, promptTokens: answer.usage?.prompt_tokens, completionTokens: answer.usage?.completion_tokens };
  }

  readFrame(data: string, reader: FrameReader): void {
    if (data === '[DONE]') return reader.end();
    const chunk = JSON.parse(data) as OpenAiChunk;
    if (chunk.object === 'error' || chunk.error !== undefined) {
      return reader.fail(typeof chunk.message === 'string' ? chunk.message : 'model server reported an error');
    }
    const choice = chunk.choices?.[0];
    if (choice) {
      const text = choice.text ?? choice.delta?.content;
      if (text) reader.text(text);
    }
    if (chunk.usage) reader.usage(chunk.usage.prompt_tokens ?? 0, chunk.usage.completion_tokens ?? 0);
  }

  errorMessage(status: number, body: string): string {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return `HTTP ${status}: ${parsed.message.slice(0, 200)}`;
    } catch {
      // not JSON
    }
    return `HTTP ${status}`;
  }

  readModels(body: unknown): string[] {
    const data = (body as { data?: { id?: unknown }[] } | null)?.data;
    return Array.isArray(data) ? data.map((d) => d.id).filter((id): id is string => typeof id === 'string') : [];
  }
}

function completion(req: GenerationRequest) {
  return {
    model: req.adapter,
    prompt: req.prompt,
    max_tokens: req.maxTokens,
    temperature: req.temperature,
    top_p: req.topP,
    stop: req.stop,
  };
}
