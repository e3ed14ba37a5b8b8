export {
  MemoryTarget,
  memoryTarget,
  MemoryTargetError,
  type MemoryChange,
  type MemoryIndexValues,
  type MemoryTableOptions,
  type MemoryTargetOptions,
} from './memory-target.js';
