// Every TypeORM entity, for the migration CLI (the server loads them per module via forFeature).
export const ENTITIES: Function[] = [];
