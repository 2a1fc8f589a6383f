import { FrameReader, GenerationRequest, ModelProtocolClient } from './model-server.types';

interface HapaFrame {
  text?: unknown;
  type?: unknown;
  error?: unknown;
}

/** The original HAPA model server: POST /generate/stream with `model_type` = adapter (spec §5). */
export class HapaClient implements ModelProtocolClient {
  readonly protocol = 'hapa' as const;
  readonly modelsPath = '/';

  streamRequest(req: GenerationRequest): { path: string; body: string } {
    return { path: '/generate/stream', body: JSON.stringify(generation(req)) };
  }

  completeRequest(req: GenerationRequest): { path: string; body: string } {
    return { path: '/generate', body: JSON.stringify(generation(req)) };
  }

  readCompletion(body: string): { text: string } {
    const answer = JSON.parse(body) as { generated_text?: unknown; error?: unknown };
    if (answer.error !== undefined) throw new Error(String(answer.error).slice(0, 200));
    if (typeof answer.generated_text !== 'string') throw new Error('answer without generated_text');
    return { text: answer.generated_text };
  }

  readFrame(data: string, reader: FrameReader): void {
    // Older builds end with [DONE], newer ones with {"type":"done"}.
    if (data === '[DONE]') return reader.end();
    const frame = JSON.parse(data) as HapaFrame;
    if (frame.error !== undefined) return reader.fail(String(frame.error).slice(0, 200));
    if (frame.type === 'done') {
      reader.finish('stop');
      return reader.end();
    }
    if (typeof frame.text === 'string' && frame.text) reader.text(frame.text);
  }

  errorMessage(status: number, body: string): string {
    const detail = this.errorDetail(body);
    return detail === undefined ? `HTTP ${status}` : `HTTP ${status}: ${detail.slice(0, 200)}`;
  }

  errorDetail(body: string): string | undefined {
    try {
      const parsed = JSON.parse(body) as { detail?: unknown };
      if (typeof parsed.detail === 'string') return parsed.detail.slice(0, 500);
    } catch {
      // not JSON
    }
    return undefined;
  }

  readModels(body: unknown): string[] {
    const models = (body as { available_models?: unknown } | null)?.available_models;
    return Array.isArray(models) ? models.filter((m): m is string => typeof m === 'string') : [];
  }
}

function generation(req: GenerationRequest) {
  return {
    user_id: req.hapaUserId ?? 0,
    prompt: req.prompt,
    model_type: req.adapter,
    user_select_options: {},
    temperature: req.temperature,
    top_p: req.topP,
    max_tokens: req.maxTokens,
  };
}
