/** Fills a FIM template's `{prefix}` and `{suffix}` slots; vLLM rejects `suffix`, so it travels inside the prompt. */
export function buildFimPrompt(template: string, prefix: string, suffix: string): string {
  // One pass over the template only: code may itself contain `{suffix}` or `$&`, and must land verbatim.
  return template.replace(/\{(prefix|suffix)\}/g, (_, slot: string) => (slot === 'prefix' ? prefix : suffix));
}
