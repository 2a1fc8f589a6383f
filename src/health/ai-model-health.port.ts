export interface AiModelHealth {
  available: boolean;
  /** Per-server state, shown by /health/detailed. */
  servers: { url: string; protocol: string; healthy: boolean; in_flight?: number; error?: string }[];
}

/** Implemented by the model-server module; health reads it without depending on that module. */
export abstract class AiModelHealthPort {
  abstract check(): Promise<AiModelHealth>;
}
