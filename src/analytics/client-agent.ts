import { clip } from '../common/batching/stored-values';

const CLIENT_MAX = 64;

/**
 * The calling program as analytics groups it: the User-Agent up to its first comment
 * (`OpenAI/JS 6.30.1`, `curl/8.5.0`, `Mozilla/5.0`), printable ASCII only, at most 64 characters.
 */
export function clientFromUserAgent(raw: string | string[] | undefined): string | undefined {
  const ua = Array.isArray(raw) ? raw[0] : raw;
  if (!ua) return undefined;
  const head = ua
    .split('(')[0]
    .replace(/[^\x20-\x7e]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return head ? clip(head, CLIENT_MAX) : undefined;
}
