// Migrations are listed explicitly so the same list runs from TypeScript (tests) and dist (server, CLI).
// After `npm run migration:generate -- migrations/<Name>`, read the file, then add it here.
import { MigrationInterface } from 'typeorm';
import { ErrorMonitoringAndAnalytics1795363805662 } from './1795363805662-ErrorMonitoringAndAnalytics';
import { CreateIdentity1795365152621 } from './1795365152621-CreateIdentity';
import { WidenRequestIds1795367578740 } from './1795367578740-WidenRequestIds';
import { UsageSurfaceModelClient1796007350838 } from './1796007350838-UsageSurfaceModelClient';

export const MIGRATIONS: (new () => MigrationInterface)[] = [
  ErrorMonitoringAndAnalytics1795363805662,
  CreateIdentity1795365152621,
  WidenRequestIds1795367578740,
  UsageSurfaceModelClient1796007350838,
];
