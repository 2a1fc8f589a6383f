import { createHash } from 'node:crypto';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const INCIDENT = /INC-\d{8}-[0-9A-F]{8}/g;
const HEX = /\b(?:0x)?[0-9a-f]*\d[0-9a-f]*[a-f][0-9a-f]*\b|\b(?:0x)?[0-9a-f]*[a-f][0-9a-f]*\d[0-9a-f]*\b/gi;
const DIGITS = /\d+/g;

/** The message with its variable parts (uuids, incident ids, hex, numbers) replaced, so repeats group together. */
export function normaliseMessage(message: string): string {
  return message
    .replace(INCIDENT, '<incident>')
    .replace(UUID, '<uuid>')
    .replace(HEX, (m) => (m.length >= 6 ? '<hex>' : m))
    .replace(DIGITS, '<n>')
    .slice(0, 500);
}

/** code + route + normalised message, hashed to 32 hex characters. */
export function errorFingerprint(code: string, route: string, normalisedMessage: string): string {
  return createHash('sha256').update(`${code}\u0000${route}\u0000${normalisedMessage}`).digest('hex').slice(0, 32);
}
