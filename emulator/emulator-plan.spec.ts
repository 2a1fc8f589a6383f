import { EmulatorOutputStyle } from './emulator-output';
import { CompletionRequest, planCompletion } from './emulator-plan';
import { countTokens, tokenize } from './emulator-tokenizer';

const EOT = '<|EOT|>';
const HAPA_END = '\n# --- Generation Complete ---';
const PROMPT = 'write a function to remove duplicates from a list';
const STYLES: EmulatorOutputStyle[] = ['prompt', 'comment', 'error_fix', 'autocomplete'];
const FIM = '<｜fim▁begin｜>def fib(<｜fim▁hole｜>\n<｜fim▁end｜>';

const request = (patch: Partial<CompletionRequest> = {}): CompletionRequest => ({
  style: 'prompt',
  prompt: PROMPT,
  endMarker: EOT,
  maxTokens: 1024,
  ...patch,
});

describe(planCompletion.name, () => {
  const sut = planCompletion;

  it('should end a natural answer with the end marker and finish_reason stop', () => {
    const plan = sut(request());
    expect(plan.text.endsWith(EOT)).toBe(true);
    expect(plan.finishReason).toBe('stop');
    expect(plan.tokens.join('')).toBe(plan.text);
    expect(plan.tokens).toEqual(tokenize(plan.text));
    expect(sut(request({ endMarker: HAPA_END })).text.endsWith(HAPA_END)).toBe(true);
  });

  it('should count prompt tokens with the same tokenizer', () => {
    expect(sut(request()).promptTokens).toBe(countTokens(PROMPT));
  });

  it('should be deterministic across calls, with or without the cache', () => {
    const a = sut(request({ prompt: `${PROMPT} (a)` }));
    const b = sut({ ...request({ prompt: `${PROMPT} (a)` }) });
    expect(b).toEqual(a);
  });

  it('should stop at max_tokens with finish_reason length', () => {
    const full = sut(request());
    const plan = sut(request({ maxTokens: 7 }));
    expect(plan.tokens).toEqual(full.tokens.slice(0, 7));
    expect(plan.finishReason).toBe('length');
  });

  it('should report stop when max_tokens equals the natural length', () => {
    const full = sut(request());
    expect(sut(request({ maxTokens: full.tokens.length })).finishReason).toBe('stop');
    expect(sut(request({ maxTokens: full.tokens.length - 1 })).finishReason).toBe('length');
  });

  it('should cut the answer before the first stop string and not send it', () => {
    const plan = sut(request({ stop: ['<|im_end|>', EOT] }));
    const natural = sut(request()).text;
    expect(plan.text).toBe(natural.slice(0, -EOT.length));
    expect(plan.finishReason).toBe('stop');
  });

  it('should send a token that straddles the stop string cut short', () => {
    const plan = sut(request({ stop: ['dupl'] }));
    expect(plan.text.endsWith('remove_')).toBe(true);
    expect(plan.tokens[plan.tokens.length - 1]).toBe(' remove_');
    expect(plan.tokens.join('')).toBe(plan.text);
  });

  it('should use the earliest of several stop strings', () => {
    const plan = sut(request({ stop: ['--- Rationale', '```'] }));
    expect(plan.text).toBe('');
    expect(plan.tokens).toEqual([]);
    expect(plan.finishReason).toBe('stop');
  });

  it('should prefer length when max_tokens runs out before the stop string', () => {
    expect(sut(request({ stop: [EOT], maxTokens: 3 })).finishReason).toBe('length');
  });

  it('should pad every style to exactly max_tokens tokens', () => {
    for (const style of STYLES) {
      const prompt = style === 'autocomplete' ? FIM : PROMPT;
      for (const endMarker of [EOT, HAPA_END]) {
        const natural = sut(request({ style, prompt, endMarker })).tokens.length;
        for (let maxTokens = natural; maxTokens <= natural + 23; maxTokens++) {
          const plan = sut(request({ style, prompt, endMarker, maxTokens, padToMaxTokens: true }));
          expect(plan.tokens).toHaveLength(maxTokens);
          expect(plan.text.endsWith(endMarker)).toBe(true);
          expect(plan.finishReason).toBe('stop');
        }
      }
    }
  });

  it('should pad to 256 tokens with extra code lines inside the function', () => {
    const plan = sut(request({ maxTokens: 256, padToMaxTokens: true }));
    expect(plan.tokens).toHaveLength(256);
    expect(plan.text).toMatch(/\n {4}step_1 = 1 \* 1\n[\s\S]*\n {4}return result\n```/);
  });

  it('should count the stop string out when padding, so exactly max_tokens tokens are sent', () => {
    const plan = sut(request({ maxTokens: 256, padToMaxTokens: true, stop: [EOT] }));
    expect(plan.tokens).toHaveLength(256);
    expect(plan.text).not.toContain(EOT);
  });

  it('should truncate a padded answer that is naturally longer than max_tokens', () => {
    const plan = sut(request({ maxTokens: 10, padToMaxTokens: true }));
    expect(plan.tokens).toHaveLength(10);
    expect(plan.finishReason).toBe('length');
  });
});
