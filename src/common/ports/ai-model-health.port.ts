export interface AiModelHealth {
  available: boolean;
  /** Per-server state; url, in_flight and error only in the detailed form (/health/detailed, operators only). */
  servers: { url?: string; protocol: string; healthy: boolean; in_flight?: number; error?: string }[];
}

/** Implemented by the model-server pool; the health checks read it without knowing the pool or its clients. */
export abstract class AiModelHealthPort {
  /** Without `detailed`, nothing that names a host (the form public routes such as /code/health show). */
  abstract check(options?: { detailed?: boolean }): Promise<AiModelHealth>;
}
