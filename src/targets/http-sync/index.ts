export { httpSyncTarget, HttpSyncTarget, HTTP_SYNC_DEFAULTS, type HttpSyncTargetOptions } from './http-sync-target.js';
export { HttpSyncError, type HttpSyncErrorCode } from './errors.js';
export type {
  BaselineStartBody,
  BaselineBatchBody,
  BaselineCompleteBody,
  ChangesBody,
  ChangeEntry,
  ChangeAction,
  TableRef,
} from './protocol.js';
