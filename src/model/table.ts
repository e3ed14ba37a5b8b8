import type { RelationColumn, ReplicaIdentity } from '../protocol/pgoutput-messages.js';

/** `schema.table`, unquoted, as the config and every event name a table. */
export type TableKey = string;

export function tableKey(schema: string, name: string): TableKey {
  return `${schema}.${name}`;
}

/**
 * The shape of a published table as laredo delivers it: the columns the publication sends (its
 * column list applied), with type OIDs, and which of them form the replica identity key.
 */
export interface TableSchema {
  readonly key: TableKey;
  readonly schema: string;
  readonly name: string;
  /** pg_class oid; equals the Relation message's relation id. */
  readonly relationId: number;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly RelationColumn[];
  /** Names of the replica identity (or primary key) columns, in column order. */
  readonly keyColumns: readonly string[];
}
