import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { Gauge } from 'prom-client';
import { Pool } from 'undici';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { AiModelHealth, AiModelHealthPort } from '../common/ports/ai-model-health.port';
import { DevEmulator, startDevEmulator } from './dev-emulator';
import { HapaClient } from './hapa.client';
import { MODEL_SERVER_UP } from './model-server.metrics';
import { ModelProtocolClient, UpstreamServer } from './model-server.types';
import { parseUpstreamUrls } from './upstream-url';
import { VllmOpenAiClient } from './vllm-openai.client';

const PROBE_TIMEOUT_MS = 5_000;

/** One model server: its connection pool, health and load. */
export class ServerState {
  healthy = false;
  inFlight = 0;
  lastError?: string;
  probing = false;

  constructor(
    readonly server: UpstreamServer,
    readonly label: string,
    readonly dispatcher: Pool,
    readonly client: ModelProtocolClient,
  ) {}
}

/**
 * The configured model servers: a background probe of each `/health` (logged only when a state
 * changes), least-in-flight selection among healthy ones, and the AI-model health the health
 * endpoints report. Without VLLM_SERVER_URL (never in production) it runs the emulator in-process.
 */
@Injectable()
export class ModelServerPool extends AiModelHealthPort implements OnModuleInit, OnModuleDestroy {
  private servers: ServerState[] = [];
  private emulator?: DevEmulator;
  private probeTimer?: NodeJS.Timeout;
  private readonly clients = { openai: new VllmOpenAiClient(), hapa: new HapaClient() };
  readonly authHeaders: Record<string, string>;

  constructor(
    private readonly config: AppConfig,
    private readonly logger: AppLogger,
    @InjectMetric(MODEL_SERVER_UP) private readonly upGauge: Gauge<'server'>,
  ) {
    super();
    const key = config.modelServer.apiKey;
    this.authHeaders = key ? { authorization: `Bearer ${key}` } : {};
  }

  async onModuleInit(): Promise<void> {
    let raw = this.config.modelServer.urls;
    if (!raw) {
      if (this.config.env.isProduction) throw new Error('VLLM_SERVER_URL is required in production');
      this.emulator = await startDevEmulator();
      raw = this.emulator.url;
      this.logger.write('info', 'model server: built-in emulator (VLLM_SERVER_URL is empty)', { url: raw });
    }
    const ms = this.config.modelServer;
    const seen = new Set<string>();
    this.servers = parseUpstreamUrls(raw).map((server, i) => {
      let label = this.emulator ? 'emulator' : server.label;
      if (seen.has(label)) label = `${i}:${label}`;
      seen.add(label);
      const dispatcher = new Pool(server.origin, {
        connections: ms.maxConnections,
        pipelining: 1,
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 60_000,
        headersTimeout: 0,
        bodyTimeout: 0,
        connect: { timeout: ms.connectTimeoutMs },
      });
      return new ServerState(server, label, dispatcher, this.clients[server.protocol]);
    });
    await this.probeAll(true);
    this.probeTimer = setInterval(() => void this.probeAll(false), ms.probeIntervalMs);
    this.probeTimer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.probeTimer);
    await Promise.allSettled(this.servers.map((s) => s.dispatcher.close()));
    await this.emulator?.close();
  }

  get all(): readonly ServerState[] {
    return this.servers;
  }

  /** The healthy server with the fewest requests in flight, not among `exclude`. */
  pick(exclude: ReadonlySet<ServerState>): ServerState | undefined {
    let best: ServerState | undefined;
    for (const s of this.servers) {
      if (!s.healthy || exclude.has(s)) continue;
      if (!best || s.inFlight < best.inFlight) best = s;
    }
    return best;
  }

  /** A server that refused a connection leaves the rotation until the probe re-admits it. */
  takeOut(state: ServerState, reason: string): void {
    this.setHealthy(state, false, reason);
  }

  async check(options: { detailed?: boolean } = {}): Promise<AiModelHealth> {
    const available = this.servers.some((s) => s.healthy);
    if (!options.detailed) {
      return { available, servers: this.servers.map((s) => ({ protocol: s.server.protocol, healthy: s.healthy })) };
    }
    return {
      available,
      servers: this.servers.map((s) => ({
        url: s.server.url,
        protocol: s.server.protocol,
        healthy: s.healthy,
        in_flight: s.inFlight,
        ...(s.healthy || !s.lastError ? {} : { error: s.lastError }),
      })),
    };
  }

  /** Model names the healthy servers list (base model and adapters). */
  async listModels(): Promise<string[]> {
    const names = new Set<string>();
    await Promise.all(
      this.servers
        .filter((s) => s.healthy)
        .map(async (s) => {
          try {
            const res = await s.dispatcher.request({
              path: s.server.basePath + s.client.modelsPath,
              method: 'GET',
              headers: this.authHeaders,
              signal: AbortSignal.timeout(2_000),
            });
            const body: unknown = res.statusCode === 200 ? await res.body.json() : (await res.body.dump(), null);
            for (const m of s.client.readModels(body)) names.add(m);
          } catch {
            // a server that cannot list its models is reported by the health probe
          }
        }),
    );
    return [...names];
  }

  private async probeAll(initial: boolean): Promise<void> {
    await Promise.all(this.servers.map((s) => this.probe(s, initial)));
  }

  private async probe(state: ServerState, initial: boolean): Promise<void> {
    if (state.probing) return;
    state.probing = true;
    const timeout = Math.min(PROBE_TIMEOUT_MS, Math.max(this.config.modelServer.probeIntervalMs, 250));
    try {
      const res = await state.dispatcher.request({
        path: state.server.basePath + '/health',
        method: 'GET',
        headers: this.authHeaders,
        signal: AbortSignal.timeout(timeout),
      });
      await res.body.dump();
      this.setHealthy(state, res.statusCode === 200, `health returned HTTP ${res.statusCode}`, initial);
    } catch (e) {
      this.setHealthy(state, false, describeError(e), initial);
    } finally {
      state.probing = false;
    }
  }

  private setHealthy(state: ServerState, healthy: boolean, reason: string, initial = false): void {
    if (!healthy) state.lastError = reason;
    if (state.healthy === healthy && !initial) return;
    state.healthy = healthy;
    this.upGauge.set({ server: state.label }, healthy ? 1 : 0);
    this.logger.write(healthy ? 'info' : 'warn', healthy ? 'model server up' : 'model server down', {
      server: state.label,
      protocol: state.server.protocol,
      ...(healthy ? {} : { reason }),
    });
  }
}

export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: string }).code;
    return (code ? `${code}: ` : '') + e.message.split('\n')[0].slice(0, 200);
  }
  return String(e).slice(0, 200);
}
