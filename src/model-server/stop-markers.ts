/** Markers the HAPA adapters and vLLM may emit at the end of a generation; never forwarded. */
export const STOP_MARKERS = [
  '<|EOT|>',
  '</c>',
  '[END_OF_GENERATION]',
  '# --- Generation Complete ---',
  '<|im_end|>',
] as const;

/** Stop sequences sent upstream (the model stops before them). */
export const UPSTREAM_STOP = ['<|EOT|>', '<|fim_end|>', '<|im_end|>', '# --- Generation Complete ---'] as const;

/**
 * Removes markers (by default the stop markers) from streamed text, including markers split across
 * chunks: a tail that could be the start of a marker is held back until the next chunk (or flush) decides it.
 */
export class StopMarkerStripper {
  private held = '';
  private readonly firstChars: ReadonlySet<string>;
  private readonly maxHold: number;

  constructor(private readonly markers: readonly string[] = STOP_MARKERS) {
    this.firstChars = new Set(markers.map((m) => m[0]));
    this.maxHold = Math.max(...markers.map((m) => m.length)) - 1;
  }

  push(delta: string): string {
    let s = this.held.length > 0 ? this.held + delta : delta;
    this.held = '';
    if (!this.hasMarkerChar(s)) return s;
    for (const m of this.markers) if (s.indexOf(m) !== -1) s = s.split(m).join('');
    const hold = this.heldTail(s);
    if (hold > 0) {
      this.held = s.slice(s.length - hold);
      s = s.slice(0, s.length - hold);
    }
    return s;
  }

  /** End of stream: a held tail that never became a marker is text. */
  flush(): string {
    const s = this.held;
    this.held = '';
    return s;
  }

  private hasMarkerChar(s: string): boolean {
    for (const c of this.firstChars) if (s.indexOf(c) !== -1) return true;
    return false;
  }

  /** Length of the longest suffix of s that is a proper prefix of some marker. */
  private heldTail(s: string): number {
    for (let i = Math.max(0, s.length - this.maxHold); i < s.length; i++) {
      if (!this.firstChars.has(s[i])) continue;
      const tail = s.length - i;
      for (const m of this.markers) if (m.length > tail && m.startsWith(s.slice(i))) return tail;
    }
    return 0;
  }
}

/** Removes every marker from a complete text. */
export function stripStopMarkers(text: string): string {
  if (text.indexOf('<') === -1 && text.indexOf('[') === -1 && text.indexOf('#') === -1) return text;
  for (const m of STOP_MARKERS) if (text.indexOf(m) !== -1) text = text.split(m).join('');
  return text;
}
