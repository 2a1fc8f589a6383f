import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import type { Task } from '../generation/adapters';

export interface ChatMessage {
  role: string;
  content: string;
}

/** What each adapter was trained to do, as the HAPA prompt builder states it. */
const ADAPTER_SYSTEM: Record<Task, string> = {
  code_generation:
    'You are HAPA, a Python coding assistant. Write correct, idiomatic Python code for the request, then explain it briefly.',
  code_completion: 'You are HAPA, a Python coding assistant. Complete the Python code.',
  code_optimization: 'You are HAPA, a Python coding assistant. Optimise the Python code and explain the changes.',
  unit_test_generation: 'You are HAPA, a Python coding assistant. Write pytest unit tests for the Python code.',
  code_explanation: 'You are HAPA, a Python coding assistant. Explain the Python code clearly.',
  code_review: 'You are HAPA, a Python coding assistant. Review the Python code: correctness, style, risks.',
  documentation: 'You are HAPA, a Python coding assistant. Document the Python code with docstrings and comments.',
  bug_fix: 'You are HAPA, a Python coding assistant. Fix the bug in the Python code and explain the fix.',
};

const MAX_MESSAGES = 1000;

/**
 * A chat message list checked by hand: `content` is a string, null, or an array of `{type:"text", text}`
 * parts (flattened; `cache_control` and other part fields dropped). Anything else → 400 with the field.
 */
export function readMessages(raw: unknown): ChatMessage[] {
  const bad = (field: string, message: string): never => {
    throw new AppException(ErrorCode.E4006, { message: `${field}: ${message}`, details: [{ field, message }] });
  };
  if (!Array.isArray(raw) || raw.length === 0) return bad('messages', 'must be a non-empty array');
  if (raw.length > MAX_MESSAGES) return bad('messages', `at most ${MAX_MESSAGES} messages`);
  return raw.map((m: unknown, i): ChatMessage => {
    const at = `messages[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return bad(at, 'must be an object');
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || role.length === 0 || role.length > 32) return bad(`${at}.role`, 'must be a string');
    if (content === null || content === undefined) return { role, content: '' };
    if (typeof content === 'string') return { role, content };
    if (!Array.isArray(content)) return bad(`${at}.content`, 'must be a string or an array of text parts');
    let text = '';
    for (const [j, part] of content.entries()) {
      const p = part as { type?: unknown; text?: unknown } | null;
      if (typeof p !== 'object' || p === null) return bad(`${at}.content[${j}]`, 'must be an object');
      // Images and other modalities are not something a code model reads.
      if (p.type !== 'text' || typeof p.text !== 'string')
        return bad(`${at}.content[${j}]`, 'only text parts are supported');
      text += p.text;
    }
    return { role, content: text };
  });
}

/**
 * Renders a conversation in the instruction format the HAPA adapters were trained on (the prompt
 * builder's `### Instruction:` / `### Response:` turns after a system block): the adapter's own
 * system prompt, then the client's system messages, then the turns; the prompt ends where the
 * adapter's answer starts. Tool results are shown to the model as user turns.
 */
export function renderChat(task: Task, messages: readonly ChatMessage[]): string {
  const system = [ADAPTER_SYSTEM[task]];
  let turns = '';
  for (const m of messages) {
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(m.content);
        break;
      case 'assistant':
        turns += `### Response:\n${m.content}\n<|EOT|>\n`;
        break;
      default:
        turns += `### Instruction:\n${m.content}\n`;
    }
  }
  return `${system.join('\n\n')}\n${turns}### Response:\n`;
}
