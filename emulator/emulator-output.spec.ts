import { EmulatorOutputStyle, fimPrefix, generateOutput, outputStyleFor } from './emulator-output';

const STYLES: EmulatorOutputStyle[] = ['prompt', 'comment', 'error_fix', 'autocomplete'];
const fim = (prefix: string, suffix = '') => `<｜fim▁begin｜>${prefix}<｜fim▁hole｜>${suffix}<｜fim▁end｜>`;

describe(generateOutput.name, () => {
  const sut = generateOutput;

  it('should give byte-identical output for the same style and prompt', () => {
    for (const style of STYLES) {
      const prompt = 'write a function to remove duplicates from a list';
      expect(sut(style, prompt)).toEqual(sut(style, prompt));
    }
  });

  it('should derive the function from the prompt words', () => {
    const { text } = sut('prompt', 'write a function to remove duplicates from a list');
    expect(text).toContain('def remove_duplicates_from_list(items):');
    expect(text).toContain('seen.add(item)');
  });

  it('should give different code for different prompts', () => {
    const a = sut('prompt', 'write a function to compute the factorial of a number').text;
    const b = sut('prompt', 'write a function that checks whether a string is a palindrome').text;
    expect(a).toContain('def compute_factorial_of_number(n):');
    expect(a).toContain('result *= i');
    expect(b).toContain('def checks_whether_string_is_palindrome(text):');
    expect(b).toContain('cleaned[::-1]');
  });

  it('should shape the prompt adapter as a fenced block, a rationale line and 1-3 sentences with non-ASCII text', () => {
    const { text } = sut('prompt', 'create a function to sort a list');
    const [code, rationale] = text.split('\n\n--- Rationale ---\n');
    expect(code).toMatch(/^```python\ndef sort_list\(items\):\n[\s\S]*\n```$/);
    const sentences = rationale.split(/(?<=\.)\s+/);
    expect(sentences.length).toBeGreaterThanOrEqual(1);
    expect(sentences.length).toBeLessThanOrEqual(3);
    expect(text).toMatch(/[^\x00-\x7f]/);
  });

  it('should shape error_fix as fenced code and a fix explanation that reuses the broken function', () => {
    const prompt =
      'Fix this code:\n```python\ndef average(nums):\n    return sum(nums) / len(nums)\n```\nZeroDivisionError: division by zero';
    const { text } = sut('error_fix', prompt);
    const [code, explanation] = text.split('\n\n--- Fix Explanation ---\n');
    expect(code).toMatch(/^```python\ndef average\(nums\):/);
    expect(code).toContain('result = sum(nums) / len(nums)');
    expect(code.endsWith('```')).toBe(true);
    expect(explanation).toContain('ZeroDivisionError');
  });

  it('should shape comment as prose around a documented snippet', () => {
    const { text } = sut('comment', 'Explain this code:\ndef fib(n):\n    a, b = 0, 1\n    return a');
    expect(text).toMatch(/^Here is `fib`/);
    expect(text).toMatch(/\n\n```python\ndef fib\(n\):\n {4}"""Fib\.[\s\S]*# [^\n]+\n[\s\S]*```\n\n\S/);
    expect(text).not.toContain('--- ');
  });

  it('should answer autocomplete with only the continuation of the FIM prefix last line', () => {
    const open = sut('autocomplete', fim('import os\n\n# compute the nth fibonacci number\ndef fib(', '\n'));
    expect(open.text).toMatch(/^n\):\n {4}"""Fib — returns a new value\."""\n {4}result = n\n {4}return result$/);
    expect(sut('autocomplete', fim('for x in items:\n    pri')).text).toBe('nt(result)');
    expect(sut('autocomplete', fim('def total(prices):\n    return')).text).toBe(' result');
    expect(sut('autocomplete', fim('def add(a, b):\n')).text).toBe(
      '    """Add — returns a new value."""\n    result = a\n    return result',
    );
    const fromComment = sut('autocomplete', fim('# read a csv file\n')).text;
    expect(fromComment).toMatch(/^def read_csv_file\(path\):\n {4}"""/);
    expect(fromComment).not.toContain('```');
    expect(fromComment).not.toContain('---');
  });

  it('should ignore fault markers when deriving the answer', () => {
    const prompt = 'write a function to reverse a string';
    expect(sut('prompt', `${prompt} [[fault:slow-drip]]`)).toEqual(sut('prompt', prompt));
  });

  it('should take the task from an instruction block, not from the persona around it', () => {
    const prompt =
      'You are an AI programming assistant. You write clean code.\n### Instruction:\nPlease write a function to merge two dictionaries\n### Response:\n';
    expect(sut('prompt', prompt).text).toContain('def merge_two_dictionaries(mapping):');
  });

  it('should point padAt just before a newline that follows a non-whitespace character', () => {
    const prompts = ['write a function to remove duplicates from a list', fim('def fib('), fim('x = 1\n'), 'x'];
    for (const style of STYLES) {
      for (const prompt of prompts) {
        const { text, padAt } = sut(style, prompt);
        expect(padAt).toBeGreaterThan(0);
        expect(text[padAt - 1]).toMatch(/\S/);
        if (padAt < text.length) expect(text[padAt]).toBe('\n');
      }
    }
  });
});

describe(fimPrefix.name, () => {
  it('should extract the prefix from DeepSeek and StarCoder markers, or keep a plain prompt', () => {
    expect(fimPrefix('<｜fim▁begin｜>abc<｜fim▁hole｜>def<｜fim▁end｜>')).toBe('abc');
    expect(fimPrefix('<|fim_prefix|>abc<|fim_suffix|>def<|fim_middle|>')).toBe('abc');
    expect(fimPrefix('plain')).toBe('plain');
  });
});

describe(outputStyleFor.name, () => {
  it('should map adapters to their answer shape and anything else to the prompt shape', () => {
    expect(outputStyleFor('autocomplete')).toBe('autocomplete');
    expect(outputStyleFor('error_fix')).toBe('error_fix');
    expect(outputStyleFor('comment')).toBe('comment');
    expect(outputStyleFor(undefined)).toBe('prompt');
    expect(outputStyleFor('custom')).toBe('prompt');
  });
});
