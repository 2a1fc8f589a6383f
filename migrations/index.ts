// Migrations are listed explicitly so the same list runs from TypeScript (tests) and dist (server, CLI).
// After `npm run migration:generate -- migrations/<Name>`, read the file, then add it here.
import { MigrationInterface } from 'typeorm';

export const MIGRATIONS: (new () => MigrationInterface)[] = [];
