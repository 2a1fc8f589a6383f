import { randomBytes } from 'node:crypto';

/** INC-YYYYMMDD-XXXXXXXX (8 uppercase hex), UTC date. */
export function newIncidentId(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `INC-${day}-${randomBytes(4).toString('hex').toUpperCase()}`;
}
