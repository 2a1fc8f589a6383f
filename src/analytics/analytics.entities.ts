import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

// Mirrors of the tables created by migrations/*-ErrorMonitoringAndAnalytics.ts; writes are batched SQL.

@Entity('usage_events')
@Index('IDX_usage_events_key_at', ['apiKeyId', 'at'])
@Index('IDX_usage_events_user_at', ['userId', 'at'])
@Index('IDX_usage_events_adapter_at', ['adapter', 'at'])
@Index('IDX_usage_events_client_at', ['client', 'at'])
export class UsageEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Index('IDX_usage_events_at') @Column({ type: 'timestamptz' }) at: Date;
  @Column({ name: 'api_key_id', type: 'varchar', length: 64, nullable: true }) apiKeyId: string | null;
  @Column({ name: 'user_id', type: 'varchar', length: 64, nullable: true }) userId: string | null;
  @Column({ type: 'varchar', length: 10 }) method: string;
  @Column({ type: 'varchar', length: 200 }) route: string;
  @Column({ type: 'smallint' }) status: number;
  @Column({ name: 'latency_ms', type: 'real' }) latencyMs: number;
  @Column({ type: 'varchar', length: 64, nullable: true }) adapter: string | null;
  @Column({ name: 'ttft_ms', type: 'real', nullable: true }) ttftMs: number | null;
  @Column({ name: 'upstream_ms', type: 'real', nullable: true }) upstreamMs: number | null;
  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true }) promptTokens: number | null;
  @Column({ name: 'completion_tokens', type: 'integer', nullable: true }) completionTokens: number | null;
  @Column({ type: 'boolean', nullable: true }) cached: boolean | null;
  @Column({ type: 'boolean', nullable: true }) stream: boolean | null;
  @Column({ name: 'completion_id', type: 'varchar', length: 64, nullable: true }) completionId: string | null;
  /** hapa (API_V1_PREFIX) | openai (/v1). */
  @Column({ type: 'varchar', length: 16, nullable: true }) surface: string | null;
  /** The model name an OpenAI-compatible client sent. */
  @Column({ type: 'varchar', length: 64, nullable: true }) model: string | null;
  /** The calling program, from its User-Agent. */
  @Column({ type: 'varchar', length: 64, nullable: true }) client: string | null;
}

export type CompletionEventType = 'view' | 'select' | 'dismiss';
export const COMPLETION_EVENT_TYPES: CompletionEventType[] = ['view', 'select', 'dismiss'];

@Entity('completion_events')
@Check('CHK_completion_events_type', `"type" IN ('view', 'select', 'dismiss')`)
export class CompletionEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Index('IDX_completion_events_at') @Column({ type: 'timestamptz' }) at: Date;
  @Column({ type: 'varchar', length: 8 }) type: CompletionEventType;
  @Index('IDX_completion_events_completion_id')
  @Column({ name: 'completion_id', type: 'varchar', length: 64 })
  completionId: string;
  @Column({ type: 'varchar', length: 32, nullable: true }) language: string | null;
  @Column({ name: 'elapsed_ms', type: 'integer', nullable: true }) elapsedMs: number | null;
  @Column({ name: 'api_key_id', type: 'varchar', length: 64, nullable: true }) apiKeyId: string | null;
  @Column({ name: 'user_id', type: 'varchar', length: 64, nullable: true }) userId: string | null;
}

export const ANALYTICS_ENTITIES = [UsageEventEntity, CompletionEventEntity];
