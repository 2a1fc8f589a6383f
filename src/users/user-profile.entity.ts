import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { User } from './user.entity';

@Entity('user_profiles')
export class UserProfile {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' }) userId: string;
  // Declares the foreign key for the schema (and migration:generate); never loaded.
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'user_profiles_user_id_fkey' })
  user?: User;
  @Column({ name: 'profile_data', type: 'jsonb', default: () => "'{}'" }) profileData: Record<string, unknown>;
  @Column({ name: 'settings_mapping', type: 'integer', array: true, default: () => "'{}'" }) settingsMapping: number[];
  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' }) updatedAt: Date;
}

@Entity('user_settings')
export class UserSetting {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' }) userId: string;
  @PrimaryColumn({ name: 'option_id', type: 'integer' }) optionId: number;
  // Declares the foreign key for the schema (and migration:generate); never loaded.
  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'user_settings_user_id_fkey' })
  user?: User;
  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' }) createdAt: Date;
}
