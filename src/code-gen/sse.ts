import { TokenUsage } from '../model-server/model-server.types';

/** What a streaming handler emits: a string is a token delta; objects are rare control events. */
export type SseItem = string | SseStart | SseDone;

/** Whether the answer is a cached one; framed lazily with the first token, so pre-token errors stay JSON. */
export interface SseStart {
  type: 'start';
  cached: boolean;
}

export interface SseDone {
  type: 'done';
  token_usage: TokenUsage;
  [extra: string]: unknown;
}

export const SSE_DONE_FRAME = 'data: [DONE]\n\n';
export const SSE_HEARTBEAT_FRAME = 'data: {"type":"heartbeat","content":"","text":""}\n\n';

/** The stream routes (relative to the API prefix); their pre-stream errors carry type/content. */
export const SSE_ROUTES = ['code/generate/stream', 'enhanced-stream-generate', 'code/enhanced-stream-generate'];

let lastMs = 0;
let lastIso = '';
/** ISO timestamp, reused within the same millisecond (no Date per token). */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

/** One `data:` frame per event, each a single-line JSON string built without intermediate objects. */
export class SseFrameWriter {
  private sequence = 0;

  start(requestId: string, cached = false): string {
    return (
      `data: {"type":"start","content":"","text":"","sequence":${this.sequence++},"timestamp":"${isoNow()}",` +
      `"is_complete":false,"request_id":${JSON.stringify(requestId)},"cached":${cached}}\n\n`
    );
  }

  token(delta: string): string {
    const json = JSON.stringify(delta);
    return (
      `data: {"type":"token","content":${json},"text":${json},"sequence":${this.sequence++},` +
      `"timestamp":"${isoNow()}","is_complete":false}\n\n`
    );
  }

  done(event: SseDone): string {
    const { type: _type, ...rest } = event;
    const extra = JSON.stringify(rest).slice(1, -1);
    return (
      `data: {"type":"done","content":"","text":"","sequence":${this.sequence++},"timestamp":"${isoNow()}",` +
      `"is_complete":true${extra ? ',' + extra : ''}}\n\n`
    );
  }

  error(code: string, message: string, incidentId: string): string {
    return `data: ${JSON.stringify({
      type: 'error',
      content: message,
      text: '',
      error_code: code,
      incident_id: incidentId,
      sequence: this.sequence++,
      timestamp: isoNow(),
      is_complete: true,
    })}\n\n`;
  }
}
