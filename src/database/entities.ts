import { ANALYTICS_ENTITIES } from '../analytics/analytics.entities';
import { ERROR_MONITORING_ENTITIES } from '../error-monitoring/error-monitoring.entities';

// Every TypeORM entity, for the migration CLI (the server loads them per module via forFeature).
import { ApiKey } from '../api-keys/api-key.entity';
import { User } from '../users/user.entity';
import { UserProfile, UserSetting } from '../users/user-profile.entity';

export const ENTITIES = [...ERROR_MONITORING_ENTITIES, ...ANALYTICS_ENTITIES, User, ApiKey, UserProfile, UserSetting];
