export { jsonlTarget, JsonlTarget, JSONL_DEFAULTS, type JsonlTargetOptions } from './jsonl-target.js';
export { JsonlTargetError, JsonlFormatError, JsonlReplayError, type JsonlTargetErrorCode } from './errors.js';
export { readJsonl, streamJsonl, parseJsonlLine, rebuildTables, rowKey, type RebuiltTable, type RebuildOptions } from './read.js';
export type {
  JsonlLine,
  JsonlOp,
  ResetLine,
  SchemaLine,
  BaselineLine,
  BaselineCompleteLine,
  InsertLine,
  UpdateLine,
  DeleteLine,
  TruncateLine,
  MessageLine,
  ChangeLine,
  CommitFields,
  JsonRowValues,
} from './format.js';
export type { FsyncFunction } from './output.js';
export { SpoolError } from '../line-spool.js';
