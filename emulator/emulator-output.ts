/** How an adapter shapes its answer; the base model answers like `prompt`. */
export type EmulatorOutputStyle = 'prompt' | 'comment' | 'error_fix' | 'autocomplete';

export interface GeneratedOutput {
  /** The natural answer, without the protocol's end marker. */
  text: string;
  /** Where padding lines may go: right after a non-whitespace character and before a newline (or the end). */
  padAt: number;
  padIndent: string;
}

export const FAULT_MARKER_RE = /\[\[fault:([a-z0-9-]+)\]\]/;
const FAULT_MARKERS_RE = /[ \t]*\[\[fault:[a-z0-9-]+\]\]/g;

export function outputStyleFor(adapter: string | undefined): EmulatorOutputStyle {
  if (adapter === 'autocomplete' || adapter === 'comment' || adapter === 'error_fix') return adapter;
  return 'prompt';
}

/** Deterministic: the same style and prompt always give the same output. */
export function generateOutput(style: EmulatorOutputStyle, prompt: string): GeneratedOutput {
  const cleaned = prompt.replace(FAULT_MARKERS_RE, '');
  switch (style) {
    case 'autocomplete':
      return autocompleteOutput(cleaned);
    case 'prompt':
    case 'comment':
    case 'error_fix':
      return explainedOutput(style, extractTask(cleaned));
  }
}

type Kind = 'list' | 'mapping' | 'path' | 'text' | 'number' | 'data';

interface Task {
  name: string;
  params: string;
  param: string;
  kind: Kind;
  phrase: string;
  words: string[];
  seed: number;
  errorName?: string;
}

const KIND_WORDS: [Kind, RegExp][] = [
  ['list', /^(?:list|lists|array|arrays|items|elements|sequence|sequences|tuple|tuples|nums|average|mean)$/],
  ['mapping', /^(?:dict|dicts|dictionary|dictionaries|map|mapping|json|keys|values)$/],
  ['path', /^(?:file|files|path|paths|csv|directory|folder|filename|lines)$/],
  ['text', /^(?:string|strings|text|word|words|sentence|sentences|palindrome|characters|str|vowels)$/],
  ['number', /^(?:number|numbers|integer|integers|int|nth|factorial|prime|primes|fib|fibonacci|digits)$/],
];
const PARAM_BY_KIND: Record<Kind, string> = {
  list: 'items',
  mapping: 'mapping',
  path: 'path',
  text: 'text',
  number: 'n',
  data: 'data',
};
const NOUN_BY_KIND: Record<Kind, string> = {
  list: 'list',
  mapping: 'dictionary',
  path: 'file path',
  text: 'string',
  number: 'integer',
  data: 'value',
};

const ACTION_RE =
  /\b(?:write|create|implement|make|build|generate|define|develop|add|compute|calculate|find|sort|convert|parse|check|count|reverse|remove|merge|validate|read|load|format|explain|document|fix|optimi[sz]e|refactor|test)\b/i;
const LEADING_FILLERS = new Set(
  'please can could would you me i we need want to write create implement make build generate define develop a an the python py function method program script snippet code that which simple small new helper'.split(
    ' ',
  ),
);
const ARTICLES = new Set('a an the this these my your some given its'.split(' '));
const TRAILING_FILLERS = new Set('in of to for and or with from by on while that which using is are as at'.split(' '));
const PY_KEYWORDS = new Set(
  'false none true and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(
    ' ',
  ),
);

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function instructionRegion(prompt: string): string {
  const block = /###\s*Instruction:?\s*([\s\S]*?)(?:###\s*Response|$)/i.exec(prompt);
  if (block && block[1].trim()) return block[1];
  const labelled = /^\s*(?:user question|user|question|task|request)\s*:\s*(\S.*)$/im.exec(prompt);
  return labelled ? labelled[1] : prompt;
}

const CODE_LINE_RE = /^(?:(?:def|class|import|from|return|for|while|if|elif|else|try|except|with|print)\b|#|>>>|@)/;
// Lines addressed to the model (persona, rules) rather than describing the task.
const DIRECTIVE_RE = /^(?:you|your|as an?|always|never|do not|don't|respond|answer)\b/i;

function pickSentence(region: string): string {
  const prose = region.replace(/```[\s\S]*?(?:```|$)/g, '\n');
  const sentences = prose
    .split(/\n+|(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s && !CODE_LINE_RE.test(s) && !DIRECTIVE_RE.test(s));
  return sentences.find((s) => ACTION_RE.test(s)) ?? sentences[0] ?? '';
}

function phraseWords(sentence: string): string[] {
  const all = sentence.toLowerCase().match(/[a-z][a-z0-9]*/g) ?? [];
  const action = all.findIndex((w) => ACTION_RE.test(w));
  let words = action > 0 ? all.slice(action) : all;
  let start = 0;
  while (start < words.length && LEADING_FILLERS.has(words[start])) start++;
  words = words.slice(start).filter((w) => !ARTICLES.has(w));
  words = words.slice(0, 5);
  while (words.length > 1 && TRAILING_FILLERS.has(words[words.length - 1])) words.pop();
  return words;
}

function kindOf(words: readonly string[]): Kind {
  for (const [kind, re] of KIND_WORDS) if (words.some((w) => re.test(w))) return kind;
  return 'data';
}

function identifier(words: readonly string[], fallback: string): string {
  const name = words.join('_').replace(/^[^a-z_]+/, '');
  if (!name) return fallback;
  return PY_KEYWORDS.has(name) ? `${name}_value` : name;
}

function extractTask(prompt: string): Task {
  const region = instructionRegion(prompt);
  const seed = fnv1a(prompt.trim());
  const errorName = /\b([A-Z][A-Za-z]*(?:Error|Exception))\b/.exec(region)?.[1];
  const sentence = pickSentence(region);
  const allWords = sentence.toLowerCase().match(/[a-z][a-z0-9]*/g) ?? [];
  const existing = /\bdef\s+([A-Za-z_]\w*)\s*\(([^)]*)\)/.exec(region);
  if (existing) {
    const name = existing[1];
    const params = existing[2].trim();
    const first = params
      .split(',')
      .map((p) => p.split(/[:=]/)[0].replace(/^\*+/, '').trim())
      .find((p) => p && p !== 'self' && p !== 'cls');
    const nameWords = name.toLowerCase().split('_').filter(Boolean);
    const kind = kindOf([...allWords, ...nameWords, ...params.toLowerCase().split(/\W+/)]);
    const param = first ?? PARAM_BY_KIND[kind];
    return {
      name,
      params: first ? params : param,
      param,
      kind,
      phrase: nameWords.join(' ') || name,
      words: [...nameWords, ...allWords],
      seed,
      errorName,
    };
  }
  const words = phraseWords(sentence);
  const kind = kindOf(allWords);
  const param = PARAM_BY_KIND[kind];
  const name = identifier(words, 'solve_task');
  return {
    name,
    params: param,
    param,
    kind,
    phrase: words.join(' ') || 'solve the task',
    words: allWords,
    seed,
    errorName,
  };
}

// Body templates: one line per entry, indented relative to the function body; `$p` is the parameter.
// Every template ends with `return result`, the anchor padding lines are inserted before.
const BODIES: Record<Kind, { when?: RegExp; lines: string[] }[]> = {
  list: [
    {
      when: /^(?:duplicates?|unique|dedupe|distinct)$/,
      lines: [
        'seen = set()',
        'result = []',
        'for item in $p:',
        '    if item in seen:',
        '        continue',
        '    seen.add(item)',
        '    result.append(item)',
        'return result',
      ],
    },
    {
      when: /^(?:average|mean)$/,
      lines: [
        'if not $p:',
        '    raise ValueError("$p must not be empty")',
        'result = sum($p) / len($p)',
        'return result',
      ],
    },
    { when: /^(?:sort|sorted|sorts|order)$/, lines: ['result = list($p)', 'result.sort()', 'return result'] },
    { when: /^(?:sum|total|add)$/, lines: ['result = 0', 'for item in $p:', '    result += item', 'return result'] },
    {
      when: /^(?:max|maximum|largest|biggest)$/,
      lines: [
        'if not $p:',
        '    raise ValueError("$p must not be empty")',
        'result = $p[0]',
        'for item in $p[1:]:',
        '    if item > result:',
        '        result = item',
        'return result',
      ],
    },
    { lines: ['result = [item for item in $p if item is not None]', 'return result'] },
    {
      lines: ['result = []', 'for index, item in enumerate($p):', '    result.append((index, item))', 'return result'],
    },
  ],
  mapping: [
    {
      when: /^(?:invert|swap|reverse)$/,
      lines: ['result = {value: key for key, value in $p.items()}', 'return result'],
    },
    { lines: ['result = {}', 'for key, value in $p.items():', '    result[key] = value', 'return result'] },
    { lines: ['result = dict(sorted($p.items(), key=lambda pair: pair[1]))', 'return result'] },
  ],
  path: [
    {
      when: /^csv$/,
      lines: [
        'import csv',
        'with open($p, newline="", encoding="utf-8") as handle:',
        '    result = list(csv.DictReader(handle))',
        'return result',
      ],
    },
    {
      lines: [
        'with open($p, encoding="utf-8") as handle:',
        '    lines = handle.read().splitlines()',
        'result = [line for line in lines if line.strip()]',
        'return result',
      ],
    },
  ],
  text: [
    {
      when: /^palindromes?$/,
      lines: [
        'cleaned = "".join(ch.lower() for ch in $p if ch.isalnum())',
        'result = cleaned == cleaned[::-1]',
        'return result',
      ],
    },
    { when: /^(?:reverse|reversed|reverses)$/, lines: ['result = $p[::-1]', 'return result'] },
    {
      when: /^(?:count|counts|frequency|occurrences)$/,
      lines: [
        'counts = {}',
        'for word in $p.split():',
        '    counts[word] = counts.get(word, 0) + 1',
        'result = counts',
        'return result',
      ],
    },
    { lines: ['words = $p.split()', 'result = " ".join(word.capitalize() for word in words)', 'return result'] },
    { lines: ['result = $p.strip().lower()', 'return result'] },
  ],
  number: [
    {
      when: /^fib(?:onacci)?$/,
      lines: ['a, b = 0, 1', 'for _ in range($p):', '    a, b = b, a + b', 'result = a', 'return result'],
    },
    {
      when: /^factorial$/,
      lines: [
        'if $p < 0:',
        '    raise ValueError("$p must be non-negative")',
        'result = 1',
        'for i in range(2, $p + 1):',
        '    result *= i',
        'return result',
      ],
    },
    {
      when: /^primes?$/,
      lines: [
        'if $p < 2:',
        '    return False',
        'result = all($p % d for d in range(2, int($p**0.5) + 1))',
        'return result',
      ],
    },
    {
      lines: [
        'if $p < 0:',
        '    raise ValueError("$p must be non-negative")',
        'result = sum(range($p + 1))',
        'return result',
      ],
    },
  ],
  data: [
    { lines: ['if $p is None:', '    raise ValueError("$p must not be None")', 'result = $p', 'return result'] },
    { lines: ['result = {"input": $p, "type": type($p).__name__}', 'return result'] },
  ],
};

function bodyLines(task: Task): string[] {
  const templates = BODIES[task.kind];
  const matched = templates.find((t) => t.when && task.words.some((w) => t.when!.test(w)));
  const generic = templates.filter((t) => !t.when);
  const chosen = matched ?? generic[task.seed % generic.length];
  return chosen.lines.map((line) => `    ${line.replaceAll('$p', task.param)}`);
}

function sentenceCase(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function functionCode(task: Task, style: Exclude<EmulatorOutputStyle, 'autocomplete'>): string {
  const noun = NOUN_BY_KIND[task.kind];
  const lines = [`def ${task.name}(${task.params}):`];
  lines.push(`    """${sentenceCase(task.phrase)}.`, '');
  lines.push('    Args:', `        ${task.param}: the input ${noun} — it is not modified.`, '');
  lines.push('    Returns:', `        The result of ${task.phrase}.`);
  if (style === 'error_fix') lines.push('', '    Raises:', `        TypeError: if ${task.param} is None.`);
  lines.push('    """');
  if (style === 'error_fix') {
    lines.push(`    if ${task.param} is None:`, `        raise TypeError("${task.param} must not be None")`);
  }
  if (style === 'comment') lines.push(`    # Build the result in one pass so ${task.param} is read only once.`);
  lines.push(...bodyLines(task));
  return lines.join('\n');
}

function pick<T>(items: readonly T[], seed: number): T {
  return items[seed % items.length];
}

function explainedOutput(style: Exclude<EmulatorOutputStyle, 'autocomplete'>, task: Task): GeneratedOutput {
  const code = functionCode(task, style);
  const fenced = '```python\n' + code + '\n```';
  const noun = NOUN_BY_KIND[task.kind];
  let text: string;
  switch (style) {
    case 'prompt': {
      const sentences = [
        `\`${task.name}\` takes \`${task.param}\` and returns the result of ${task.phrase} — the input is never mutated.`,
        pick(
          [
            'A naïve version would recompute intermediate values on every call; keeping them in `result` makes the intent explicit.',
            `Edge cases such as an empty ${noun} need no special handling by the caller.`,
            'The docstring documents the arguments and the return value so editors can show them on hover.',
          ],
          task.seed,
        ),
      ];
      if (task.seed % 3 === 0) sentences.push('It uses only the standard library.');
      text = `${fenced}\n\n--- Rationale ---\n${sentences.join(' ')}`;
      break;
    }
    case 'error_fix': {
      const cause = task.errorName ? ` raised ${task.errorName}` : ' failed';
      const sentences = [
        `The original \`${task.name}\`${cause} because it used \`${task.param}\` without checking it first — the corrected version validates \`${task.param}\` and builds \`result\` explicitly.`,
        pick(
          [
            'Run it again with the same input to confirm the fix.',
            'A regression test for this input is a good next step.',
            'The behaviour for valid input is unchanged.',
          ],
          task.seed,
        ),
      ];
      text = `${fenced}\n\n--- Fix Explanation ---\n${sentences.join(' ')}`;
      break;
    }
    case 'comment':
      text =
        `Here is \`${task.name}\` with a docstring and comments — each one says why a step exists, not what it does.\n\n` +
        `${fenced}\n\n` +
        `The docstring states the contract (arguments, return value) and the comment explains the single pass over \`${task.param}\`; ` +
        `rename \`result\` if a more specific name fits your codebase.`;
      break;
  }
  return { text, padAt: text.lastIndexOf('\n    return result'), padIndent: '    ' };
}

// DeepSeek's fill-in-the-middle markers, plus the StarCoder/Qwen spelling for robustness.
const FIM_PREFIX_RE =
  /(?:<｜fim▁begin｜>|<\|fim_begin\|>|<\|fim_prefix\|>|<fim_prefix>)([\s\S]*?)(?:<｜fim▁hole｜>|<\|fim_hole\|>|<\|fim_suffix\|>|<fim_suffix>|$)/;
const FIM_HOLE_RE = /<｜fim▁hole｜>|<\|fim_hole\|>|<\|fim_suffix\|>|<fim_suffix>/;

export function fimPrefix(prompt: string): string {
  const begin = FIM_PREFIX_RE.exec(prompt);
  if (begin) return begin[1];
  const hole = FIM_HOLE_RE.exec(prompt);
  return hole ? prompt.slice(0, hole.index) : prompt;
}

const WORD_COMPLETIONS = [
  'return result',
  'print(result)',
  'range(len(items))',
  'len(items)',
  'append(item)',
  'import os',
  'isinstance(value, str)',
  'enumerate(items)',
  'sorted(items)',
  'self.value',
  'raise ValueError("invalid input")',
  'yield item',
  'result',
  'items',
];

function autocompleteTask(prefix: string, name?: string): Task {
  const comments = prefix.match(/#[^\n]*/g) ?? [];
  const words = phraseWords(comments[comments.length - 1] ?? '');
  const nameWords = name ? name.toLowerCase().split('_').filter(Boolean) : [];
  const kind = kindOf([...words, ...nameWords]);
  const param = PARAM_BY_KIND[kind];
  const fnName = name ?? identifier(words, 'process_data');
  const phrase = (name ? nameWords.join(' ') : words.join(' ')) || 'process the data';
  return { name: fnName, params: param, param, kind, phrase, words, seed: fnv1a(prefix) };
}

function defBody(indent: string, task: Task, param: string, leadingNewline = true): string {
  const lines = [`"""${sentenceCase(task.phrase)} — returns a new value."""`, `result = ${param}`, 'return result'];
  return (leadingNewline ? `\n${indent}` : '') + lines.join(`\n${indent}`);
}

function firstParam(params: string): string | undefined {
  return params
    .split(',')
    .map((p) => p.split(/[:=]/)[0].replace(/^\*+/, '').trim())
    .find((p) => /^[A-Za-z_]\w*$/.test(p) && p !== 'self' && p !== 'cls');
}

function autocompleteOutput(prompt: string): GeneratedOutput {
  const prefix = fimPrefix(prompt);
  const nl = prefix.lastIndexOf('\n');
  const line = prefix.slice(nl + 1);
  const before = nl >= 0 ? prefix.slice(0, nl) : '';
  const indent = /^[ \t]*/.exec(line)![0];
  const inner = `${indent}    `;
  const code = line.slice(indent.length);
  const sp = /\s$/.test(code) || code === '' ? '' : ' ';
  let completion: string;
  let m: RegExpExecArray | null;

  if ((m = /^def\s+([A-Za-z_]\w*)\s*\(([^)]*)$/.exec(code))) {
    const task = autocompleteTask(before, m[1]);
    const typed = firstParam(m[2]);
    completion = (typed ? '' : task.param) + '):' + defBody(inner, task, typed ?? task.param);
  } else if ((m = /^def\s+([A-Za-z_]\w*)$/.exec(code))) {
    const task = autocompleteTask(before, m[1]);
    completion = `(${task.param}):` + defBody(inner, task, task.param);
  } else if (/^def\s*$/.test(code)) {
    const task = autocompleteTask(before);
    completion = `${sp}${task.name}(${task.param}):` + defBody(inner, task, task.param);
  } else if (code.trimEnd().endsWith(':')) {
    const def = /^def\s+([A-Za-z_]\w*)\s*\(([^)]*)\)/.exec(code);
    const loop = /^for\s+([A-Za-z_]\w*)/.exec(code);
    if (def) {
      const task = autocompleteTask(before, def[1]);
      completion = defBody(inner, task, firstParam(def[2]) ?? 'None');
    } else {
      completion = `\n${inner}` + (loop ? `print(${loop[1]})` : 'pass');
    }
  } else if (code.trim() === '') {
    const prev =
      before
        .split('\n')
        .reverse()
        .find((l) => l.trim() !== '') ?? '';
    const prevCode = prev.trim();
    const def = /^def\s+([A-Za-z_]\w*)\s*\(([^)]*)\)/.exec(prevCode);
    if (def && prevCode.endsWith(':')) {
      const prevIndent = /^[ \t]*/.exec(prev)![0];
      const target = indent.length > prevIndent.length ? indent : `${prevIndent}    `;
      const lead = target.startsWith(indent) ? target.slice(indent.length) : '';
      completion = lead + defBody(target, autocompleteTask(before, def[1]), firstParam(def[2]) ?? 'None', false);
    } else if (prevCode.endsWith(':')) {
      completion = 'pass';
    } else if (prevCode.startsWith('#')) {
      const task = autocompleteTask(before);
      completion = `def ${task.name}(${task.param}):` + defBody(inner, task, task.param);
    } else {
      completion = indent === '' ? 'if __name__ == "__main__":\n    main()' : 'return result';
    }
  } else if (code.startsWith('#')) {
    const task = autocompleteTask(prefix);
    completion = `\n${indent}def ${task.name}(${task.param}):` + defBody(inner, task, task.param);
  } else if (/\breturn\s*$/.test(code)) {
    completion = `${sp}result`;
  } else if (/[^=!<>]=\s*$/.test(code)) {
    completion = `${sp}[]`;
  } else if (/\(\s*$/.test(code)) {
    completion = 'result)';
  } else if ((m = /([A-Za-z_]\w*)$/.exec(code))) {
    const partial = m[1];
    const candidate = WORD_COMPLETIONS.find((c) => c.startsWith(partial) && c.length > partial.length);
    completion = candidate ? candidate.slice(partial.length) : ' = None';
  } else {
    completion = `\n${indent}` + (indent === '' ? 'print(result)' : 'return result');
  }

  const lastLine = (line + completion).slice((line + completion).lastIndexOf('\n') + 1);
  return { text: completion, padAt: completion.length, padIndent: /^[ \t]*/.exec(lastLine)![0] };
}
