/**
 * A Map bounded to `max` entries that evicts the least recently used one: Keyv's in-process store
 * when REDIS_URL is unset (Keyv keeps expiry inside the value, so no timers here).
 */
export class LruMap<V> extends Map<string, V> {
  constructor(readonly max: number) {
    super();
  }

  override get(key: string): V | undefined {
    const value = super.get(key);
    if (value !== undefined) {
      // move to the most recently used end
      super.delete(key);
      super.set(key, value);
    }
    return value;
  }

  override set(key: string, value: V): this {
    if (super.has(key)) super.delete(key);
    else if (this.size >= this.max) super.delete(super.keys().next().value as string);
    return super.set(key, value);
  }
}
