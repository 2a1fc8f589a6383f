const MAX_PENDING_CHARS = 1024 * 1024;

export class SseOverflowError extends Error {}

/**
 * Incremental reader of `data:` payloads from an SSE byte stream (already decoded as UTF-8).
 * The common case (one `data:` line per event) costs one indexOf and one slice per event.
 */
export class SseDataParser {
  private pending = '';

  constructor(private readonly onData: (data: string) => void) {}

  push(chunk: string): void {
    let buf = this.pending.length > 0 ? this.pending + chunk : chunk;
    if (buf.indexOf('\r') !== -1) buf = buf.replace(/\r\n?/g, '\n');
    let start = 0;
    for (;;) {
      const end = buf.indexOf('\n\n', start);
      if (end === -1) break;
      if (end > start) this.event(buf, start, end);
      start = end + 2;
    }
    this.pending = start === 0 ? buf : buf.slice(start);
    if (this.pending.length > MAX_PENDING_CHARS) throw new SseOverflowError('SSE event exceeds 1 MiB');
  }

  /** Whether unterminated text remains (an event cut short). */
  get hasPending(): boolean {
    return this.pending.trim().length > 0;
  }

  private event(buf: string, start: number, end: number): void {
    if (buf.startsWith('data:', start)) {
      let s = start + 5;
      if (buf.charCodeAt(s) === 32) s++;
      const nl = buf.indexOf('\n', s);
      if (nl === -1 || nl >= end) return this.onData(buf.slice(s, end));
    }
    const data: string[] = [];
    for (const line of buf.slice(start, end).split('\n')) {
      if (line.startsWith('data:')) data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
    }
    if (data.length > 0) this.onData(data.join('\n'));
  }
}
