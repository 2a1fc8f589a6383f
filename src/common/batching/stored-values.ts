const STORED_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** The method as telemetry stores it: one of the usual seven, else 'OTHER' (Node also accepts UNSUBSCRIBE, MKCALENDAR…). */
export function storedMethod(method: string): string {
  return STORED_METHODS.has(method) ? method : 'OTHER';
}

/** Text that fits a varchar(max) column: NUL removed (PostgreSQL text cannot hold it), cut to `max` characters. */
export function clip(value: string, max: number): string {
  const v = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
  if (v.length <= max) return v;
  // Do not leave half of a surrogate pair at the end.
  const end = v.charCodeAt(max - 1) >= 0xd800 && v.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return v.slice(0, end);
}

export function clipOptional(value: string | undefined, max: number): string | undefined {
  return value === undefined ? undefined : clip(value, max);
}
