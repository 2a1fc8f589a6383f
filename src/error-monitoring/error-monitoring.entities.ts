import { Check, Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

// Mirrors of the tables created by migrations/*-ErrorMonitoringAndAnalytics.ts (for the migration CLI
// and typed reads); the hot writes are multi-row SQL in ErrorMonitoringRepository.

@Entity('error_counts')
@Index('IDX_error_counts_code_minute', ['code', 'minute'])
export class ErrorCountEntity {
  @PrimaryColumn({ type: 'timestamptz' }) minute: Date;
  @PrimaryColumn({ name: 'error_code', type: 'varchar', length: 5 }) code: string;
  @PrimaryColumn({ type: 'varchar', length: 200 }) route: string;
  @Column({ type: 'bigint' }) count: string;
}

@Entity('error_events')
@Index('IDX_error_events_fingerprint_at', ['fingerprint', 'at'])
export class ErrorEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Index('IDX_error_events_at') @Column({ type: 'timestamptz' }) at: Date;
  @Column({ name: 'error_code', type: 'varchar', length: 5 }) code: string;
  @Column({ type: 'smallint' }) status: number;
  @Column({ type: 'varchar', length: 200 }) route: string;
  @Column({ type: 'varchar', length: 10 }) method: string;
  @Column({ type: 'varchar', length: 500 }) message: string;
  @Column({ name: 'request_id', type: 'varchar', length: 128 }) requestId: string;
  @Index('IDX_error_events_incident_id')
  @Column({ name: 'incident_id', type: 'varchar', length: 21 })
  incidentId: string;
  @Column({ type: 'char', length: 32 }) fingerprint: string;
  @Column({ name: 'api_key_id', type: 'varchar', length: 64, nullable: true }) apiKeyId: string | null;
  @Column({ name: 'user_id', type: 'varchar', length: 64, nullable: true }) userId: string | null;
}

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';
export const INCIDENT_STATUSES: IncidentStatus[] = ['open', 'acknowledged', 'resolved'];

@Entity('error_incidents')
@Check('CHK_error_incidents_status', `"status" IN ('open', 'acknowledged', 'resolved')`)
@Index('IDX_error_incidents_status_last_seen', ['status', 'lastSeen'])
export class ErrorIncidentEntity {
  @PrimaryColumn({ type: 'varchar', length: 21 }) id: string;
  @Column({ type: 'char', length: 32, unique: true }) fingerprint: string;
  @Column({ name: 'error_code', type: 'varchar', length: 5 }) code: string;
  @Column({ type: 'varchar', length: 200 }) route: string;
  @Column({ type: 'varchar', length: 500 }) message: string;
  @Column({ type: 'bigint' }) count: string;
  @Column({ name: 'first_seen', type: 'timestamptz' }) firstSeen: Date;
  @Index('IDX_error_incidents_last_seen') @Column({ name: 'last_seen', type: 'timestamptz' }) lastSeen: Date;
  @Column({ name: 'last_incident_id', type: 'varchar', length: 21 }) lastIncidentId: string;
  @Column({ type: 'varchar', length: 12, default: 'open' }) status: IncidentStatus;
  @Column({ name: 'acknowledged_at', type: 'timestamptz', nullable: true }) acknowledgedAt: Date | null;
  @Column({ name: 'resolved_at', type: 'timestamptz', nullable: true }) resolvedAt: Date | null;
  @Column({ name: 'reopened_count', type: 'integer', default: 0 }) reopenedCount: number;
}

export const ERROR_MONITORING_ENTITIES = [ErrorCountEntity, ErrorEventEntity, ErrorIncidentEntity];
