// A BPE-looking split: leading whitespace rides with the next word or punctuation character, as
// in GPT-style vocabularies. Every character matches one alternative, so the tokens always
// concatenate back to the input; the `u` flag keeps astral characters (emoji) in one token.
const TOKEN_RE = /\s*[A-Za-z0-9_]+|\s*[^\sA-Za-z0-9_]|\s+/gu;

/** Splits text into emulator tokens; `tokenize(t).join('') === t` for every string. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

export function countTokens(text: string): number {
  return tokenize(text).length;
}
