import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { RedisService, withTimeout } from '../redis/redis.service';
import { AiModelHealthPort } from '../common/ports/ai-model-health.port';

export interface DependencyCheck {
  status: 'up' | 'down' | 'not_configured';
  latency_ms?: number;
  error?: string;
  [extra: string]: unknown;
}

const CHECK_TIMEOUT_MS = 1500;

export type Dependency = 'postgres' | 'redis' | 'model_server';
/** Called with every check's result (the dependency gauge follows them). */
export type CheckListener = (dependency: Dependency, check: DependencyCheck) => void;

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();
  private readonly listeners: CheckListener[] = [];

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly redis: RedisService,
    private readonly aiModel: AiModelHealthPort,
  ) {}

  /** Called with every check's result (the dependency gauge follows them). */
  onCheck(listener: CheckListener): void {
    this.listeners.push(listener);
  }

  uptimeSeconds(): number {
    return Math.floor((Date.now() - this.startedAt) / 1000);
  }

  async database(): Promise<DependencyCheck> {
    return this.report('postgres', await this.databaseCheck());
  }

  async redisCheck(): Promise<DependencyCheck> {
    return this.report('redis', await this.redisPing());
  }

  async aiModelCheck(): Promise<DependencyCheck> {
    return this.report('model_server', await this.aiModelState());
  }

  private report(dependency: Dependency, check: DependencyCheck): DependencyCheck {
    for (const l of this.listeners) l(dependency, check);
    return check;
  }

  private async databaseCheck(): Promise<DependencyCheck> {
    const start = performance.now();
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), CHECK_TIMEOUT_MS, 'database check timed out');
      return {
        status: 'up',
        latency_ms: round(performance.now() - start),
        driver: this.config.database.url ? 'postgres' : 'embedded',
      };
    } catch (e) {
      return { status: 'down', latency_ms: round(performance.now() - start), error: safeError(e) };
    }
  }

  private async redisPing(): Promise<DependencyCheck> {
    if (!this.redis.client) return { status: 'not_configured', mode: 'in-process' };
    try {
      return { status: 'up', latency_ms: round(await this.redis.ping()) };
    } catch (e) {
      return { status: 'down', error: safeError(e) };
    }
  }

  private async aiModelState(): Promise<DependencyCheck> {
    const start = performance.now();
    try {
      const r = await withTimeout(
        this.aiModel.check({ detailed: true }),
        CHECK_TIMEOUT_MS,
        'model server check timed out',
      );
      return {
        status: r.available ? 'up' : 'down',
        latency_ms: round(performance.now() - start),
        servers: r.servers,
        ...(r.available ? {} : { error: 'no healthy model server' }),
      };
    } catch (e) {
      return { status: 'down', error: safeError(e) };
    }
  }

  async all(): Promise<{ database: DependencyCheck; redis: DependencyCheck; ai_model: DependencyCheck }> {
    const [database, redis, ai_model] = await Promise.all([this.database(), this.redisCheck(), this.aiModelCheck()]);
    return { database, redis, ai_model };
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

// Driver messages can carry hosts and users; keep the first line, strip credentials in URLs.
function safeError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg
    .split('\n')[0]
    .replace(/\/\/[^@\s/]+@/g, '//***@')
    .slice(0, 200);
}
