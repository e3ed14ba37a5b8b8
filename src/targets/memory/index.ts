export {
  MemoryTarget,
  memoryTarget,
  MemoryTargetError,
  type MemoryChange,
  type MemoryTableOptions,
  type MemoryTargetOptions,
} from './memory-target.js';
