export {
  RecordingTarget,
  recordingTarget,
  type RecordedBatch,
  type RecordedBatchState,
  type RecordingDurability,
  type RecordingTargetOptions,
} from './recording-target.js';
