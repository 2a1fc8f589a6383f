// Entry for the TypeORM CLI (npm run migration:*): same options as the server, entities included.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config';
import { ENTITIES } from './entities';
import { dataSourceOptions } from './data-source.options';

const config = loadConfig(process.env);
export default new DataSource({ ...dataSourceOptions(config.database), entities: ENTITIES });
