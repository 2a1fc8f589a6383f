// Migrations are listed explicitly so the same list runs from TypeScript (tests) and dist (server, CLI).
// After `npm run migration:generate -- migrations/<Name>`, read the file, then add it here.
import { MigrationInterface } from 'typeorm';
import { CreateIdentity1763800000000 } from './1763800000000-CreateIdentity';

export const MIGRATIONS: (new () => MigrationInterface)[] = [CreateIdentity1763800000000];
