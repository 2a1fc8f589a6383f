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
/** The roles OpenAI accepts (`function` is the deprecated one older clients still send). */
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];
/** An agent's tool-call turn has no content; OpenAI requires it on every other turn. */
const CONTENT_OPTIONAL = new Set(['assistant', 'function']);

/**
 * A chat message list checked by hand, as OpenAI checks it: a known role, and `content` a string, or an
 * array of `{type:"text", text}` parts (joined with newlines as vLLM does; `cache_control` and other
 * part fields dropped), absent only on an assistant (or legacy function) turn. Anything else → 400 naming the field.
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
    if (typeof role !== 'string' || !ROLES.includes(role))
      return bad(`${at}.role`, `must be one of ${ROLES.join(', ')}`);
    const optional = CONTENT_OPTIONAL.has(role);
    if (content === null || content === undefined) {
      return optional ? { role, content: '' } : bad(`${at}.content`, `is required on a ${role} message`);
    }
    if (typeof content === 'string') return { role, content };
    if (!Array.isArray(content)) return bad(`${at}.content`, 'must be a string or an array of text parts');
    if (content.length === 0 && !optional) return bad(`${at}.content`, 'must not be an empty array');
    const texts: string[] = [];
    for (const [j, part] of content.entries()) {
      const p = part as { type?: unknown; text?: unknown } | null;
      const partAt = `${at}.content[${j}]`;
      if (typeof p !== 'object' || p === null) return bad(partAt, 'must be an object');
      // Images and other modalities are not something a code model reads.
      if (p.type !== 'text') return bad(partAt, 'only text parts are supported');
      if (typeof p.text !== 'string') return bad(`${partAt}.text`, 'must be a string');
      texts.push(p.text);
    }
    return { role, content: texts.join('\n') };
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
