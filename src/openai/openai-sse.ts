import type { FinishReason, TokenUsage } from '../generation/generation.types';

export const SSE_DONE = 'data: [DONE]\n\n';
/** An SSE comment: parsers skip it (never `: ping`, which Continue's parser treats like [DONE]). */
export const SSE_KEEP_ALIVE = ': keep-alive\n\n';

export type ChunkShape = 'text_completion' | 'chat';

/**
 * Frames one answer's `data:` lines. The fixed head of every chunk (id, object, created, model) is
 * built once; a token costs one JSON.stringify of its own text.
 */
export class ChunkFramer {
  private readonly head: string;
  private roleSent = false;

  constructor(
    private readonly shape: ChunkShape,
    id: string,
    created: number,
    model: string,
  ) {
    const object = shape === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    this.head = `data: {"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${JSON.stringify(model)},"choices":[`;
  }

  /** A text delta; the first chat chunk also carries `role: "assistant"`. */
  token(delta: string): string {
    const text = JSON.stringify(delta);
    if (this.shape === 'text_completion') {
      return `${this.head}{"index":0,"text":${text},"logprobs":null,"finish_reason":null}]}\n\n`;
    }
    const role = this.roleSent ? '' : '"role":"assistant",';
    this.roleSent = true;
    return `${this.head}{"index":0,"delta":{${role}"content":${text}},"logprobs":null,"finish_reason":null}]}\n\n`;
  }

  /** The closing chunk with the finish reason (an answer with no text still gets its role first). */
  finish(reason: FinishReason): string {
    if (this.shape === 'text_completion') {
      return `${this.head}{"index":0,"text":"","logprobs":null,"finish_reason":"${reason}"}]}\n\n`;
    }
    const role = this.roleSent ? '' : '"role":"assistant","content":""';
    this.roleSent = true;
    return `${this.head}{"index":0,"delta":{${role}},"logprobs":null,"finish_reason":"${reason}"}]}\n\n`;
  }

  /** `stream_options.include_usage`: the usage chunk with no choices. */
  usage(u: TokenUsage): string {
    return (
      `${this.head}],"usage":{"prompt_tokens":${u.prompt_tokens},"completion_tokens":${u.completion_tokens},` +
      `"total_tokens":${u.total_tokens}}}\n\n`
    );
  }
}
