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

const FIRST_CHARS = new Set(STOP_MARKERS.map((m) => m[0]));
const MAX_HOLD = Math.max(...STOP_MARKERS.map((m) => m.length)) - 1;

/**
 * Removes stop markers from streamed text, including markers split across chunks: a tail that
 * could be the start of a marker is held back until the next chunk (or flush) decides it.
 */
export class StopMarkerStripper {
  private held = '';

  push(delta: string): string {
    let s = this.held.length > 0 ? this.held + delta : delta;
    this.held = '';
    if (!hasMarkerChar(s)) return s;
    for (const m of STOP_MARKERS) if (s.indexOf(m) !== -1) s = s.split(m).join('');
    const hold = heldTail(s);
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
}

function hasMarkerChar(s: string): boolean {
  return s.indexOf('<') !== -1 || s.indexOf('[') !== -1 || s.indexOf('#') !== -1;
}

/** Length of the longest suffix of s that is a proper prefix of some marker. */
function heldTail(s: string): number {
  const from = Math.max(0, s.length - MAX_HOLD);
  for (let i = from; i < s.length; i++) {
    if (!FIRST_CHARS.has(s[i])) continue;
    const tail = s.length - i;
    for (const m of STOP_MARKERS) if (m.length > tail && m.startsWith(s.slice(i))) return tail;
  }
  return 0;
}

/** Removes every marker from a complete text. */
export function stripStopMarkers(text: string): string {
  if (!hasMarkerChar(text)) return text;
  for (const m of STOP_MARKERS) if (text.indexOf(m) !== -1) text = text.split(m).join('');
  return text;
}
