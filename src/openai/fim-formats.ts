import { StopMarkerStripper } from '../model-server/stop-markers';
import { buildFimPrompt } from '../generation/fim-prompt';

/** A fill-in-the-middle spelling some client writes (each picks one from the model family it believes it talks to). */
export interface FimFormat {
  name: string;
  /** Marker tokens in the order they appear in a prompt. */
  markers: readonly string[];
  split(prompt: string): { prefix: string; suffix: string } | undefined;
}

/** `B P H S E`: prefix after `begin`, suffix between `hole` and `end` (end optional). */
function psm(name: string, begin: string, hole: string, end: string): FimFormat {
  return {
    name,
    markers: [begin, hole, end],
    split(prompt) {
      const b = prompt.indexOf(begin);
      if (b === -1) return undefined;
      const h = prompt.indexOf(hole, b + begin.length);
      if (h === -1) return undefined;
      const e = prompt.indexOf(end, h + hole.length);
      return {
        // Text before the first marker (file-separator snippets, "Context:" blocks) stays in the prefix.
        prefix: prompt.slice(0, b) + prompt.slice(b + begin.length, h),
        suffix: prompt.slice(h + hole.length, e === -1 ? undefined : e),
      };
    },
  };
}

/** CodeLlama's `<PRE> {prefix} <SUF>{suffix} <MID>`: the spaces around the prefix belong to the format. */
const CODELLAMA: FimFormat = {
  name: 'codellama',
  markers: ['<PRE>', '<SUF>', '<MID>'],
  split(prompt) {
    const b = prompt.indexOf('<PRE>');
    if (b === -1) return undefined;
    const h = prompt.indexOf('<SUF>', b + 5);
    if (h === -1) return undefined;
    const e = prompt.indexOf('<MID>', h + 5);
    let prefix = prompt.slice(b + 5, h);
    if (prefix.startsWith(' ')) prefix = prefix.slice(1);
    if (prefix.endsWith(' ')) prefix = prefix.slice(0, -1);
    let suffix = prompt.slice(h + 5, e === -1 ? undefined : e);
    if (e !== -1 && suffix.endsWith(' ')) suffix = suffix.slice(0, -1);
    return { prefix: prompt.slice(0, b) + prefix, suffix };
  },
};

/** Codestral's suffix-first `[SUFFIX]{suffix}[PREFIX]{prefix}`. */
const CODESTRAL: FimFormat = {
  name: 'codestral',
  markers: ['[SUFFIX]', '[PREFIX]'],
  split(prompt) {
    const s = prompt.indexOf('[SUFFIX]');
    if (s === -1) return undefined;
    const p = prompt.indexOf('[PREFIX]', s + 8);
    if (p === -1) return undefined;
    return { prefix: prompt.slice(0, s) + prompt.slice(p + 8), suffix: prompt.slice(s + 8, p) };
  },
};

export const FIM_FORMATS: readonly FimFormat[] = [
  psm('deepseek', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'),
  psm('starcoder', '<fim_prefix>', '<fim_suffix>', '<fim_middle>'),
  psm('qwen', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'),
  CODELLAMA,
  CODESTRAL,
  psm('hapa', '<|fim_begin|>', '<|fim_hole|>', '<|fim_end|>'),
];

/** Every marker token of every known format: never returned to a client, whichever format it wrote. */
export const FIM_MARKERS: readonly string[] = [...new Set(FIM_FORMATS.flatMap((f) => f.markers))];

export interface DetectedFim {
  format: string;
  prefix: string;
  suffix: string;
}

/** The format whose first marker comes first in the prompt, split into prefix and suffix; undefined for plain text. */
export function detectFim(prompt: string): DetectedFim | undefined {
  let best: { at: number; format: FimFormat } | undefined;
  for (const format of FIM_FORMATS) {
    const at = prompt.indexOf(format.markers[0]);
    if (at !== -1 && (!best || at < best.at)) best = { at, format };
  }
  if (!best) return undefined;
  const parts = best.format.split(prompt);
  // A begin marker without its hole: the whole text (markers dropped) is the prefix.
  if (!parts) return { format: best.format.name, prefix: stripMarkers(prompt, best.format.markers), suffix: '' };
  return { format: best.format.name, ...parts };
}

function stripMarkers(text: string, markers: readonly string[]): string {
  for (const m of markers) text = text.split(m).join('');
  return text;
}

/** The literal pieces of a FIM template around its slots: the adapter's own marker tokens (stop strings). */
export function templateMarkers(template: string): string[] {
  return template
    .split(/\{prefix\}|\{suffix\}/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Renders prefix and suffix in the adapter's template. */
export function renderFim(template: string, prefix: string, suffix: string): string {
  return buildFimPrompt(template, prefix, suffix);
}

/** Removes FIM markers from streamed text, markers split across deltas included (the stop-marker mechanism). */
export class FimMarkerStripper extends StopMarkerStripper {
  constructor(markers: readonly string[] = FIM_MARKERS) {
    super(markers);
  }
}
