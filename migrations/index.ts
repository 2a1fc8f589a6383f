// Migrations are listed explicitly so the same list runs from TypeScript (tests) and dist (server, CLI).
// After `npm run migration:generate -- migrations/<Name>`, read the file, then add it here.
import { MigrationInterface } from 'typeorm';
import { ErrorMonitoringAndAnalytics1795363805662 } from './1795363805662-ErrorMonitoringAndAnalytics';

export const MIGRATIONS: (new () => MigrationInterface)[] = [ErrorMonitoringAndAnalytics1795363805662];
