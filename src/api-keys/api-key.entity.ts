import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
} from 'typeorm';

@Entity('api_keys')
@Unique('uq_api_keys_hash', ['keyHash'])
@Index('ix_api_keys_user', ['userId'])
export class ApiKey {
  // Set by the application; the column default gen_random_uuid() covers raw inserts.
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'user_id', type: 'uuid' }) userId: string;
  // Declares the foreign key for the schema (and migration:generate); never loaded. Named, not imported:
  // users/ builds on api-keys/, never the other way.
  @ManyToOne('User', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'api_keys_user_id_fkey' })
  user?: unknown;
  /** SHA-256 hex of the secret; selected only by the credential lookup. */
  @Column({ name: 'key_hash', type: 'char', length: 64, select: false }) keyHash: string;
  /** Non-secret start of the key, for display. */
  @Column({ name: 'key_prefix', type: 'varchar', length: 16 }) keyPrefix: string;
  @Column({ type: 'varchar', length: 100, nullable: true }) name: string | null;
  @Column({ type: 'text', array: true }) permissions: string[];
  @Column({ name: 'rate_limit', type: 'integer', nullable: true }) rateLimit: number | null;
  @Column({ name: 'max_concurrent_streams', type: 'integer', nullable: true }) maxConcurrentStreams: number | null;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt: Date;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt: Date | null;
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true }) lastUsedAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
