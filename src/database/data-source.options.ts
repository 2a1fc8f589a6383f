import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { PGliteDriver } from 'typeorm-pglite';
import { MIGRATIONS } from '../../migrations';
import { claimEmbeddedDataDir } from './embedded-lock';

export interface DatabaseSettings {
  url?: string;
  dataDir: string;
}

/** PostgreSQL through pg when a URL is given, otherwise embedded PostgreSQL (PGlite) under dataDir. */
export function dataSourceOptions(db: DatabaseSettings): DataSourceOptions {
  const common = {
    type: 'postgres' as const,
    synchronize: false,
    migrationsRun: false, // run by runMigrations() under an advisory lock
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each' as const,
    // uuid primary keys default to gen_random_uuid(), built into PostgreSQL 13+ and PGlite: no extension to install.
    uuidExtension: 'pgcrypto' as const,
    installExtensions: false,
  };
  if (db.url) {
    return { ...common, url: db.url, extra: { max: 10, connectionTimeoutMillis: 5000 } };
  }
  const dataDir = path.resolve(db.dataDir, 'pglite');
  mkdirSync(dataDir, { recursive: true });
  claimEmbeddedDataDir(dataDir);
  return { ...common, driver: new PGliteDriver({ dataDir }).driver };
}
