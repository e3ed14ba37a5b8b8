import { mkdir, readFile, rename, writeFile, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { LaredoError } from '../errors.js';

/**
 * What a stateful source remembers between runs besides the slot itself: whether the slot's first
 * baseline reached every target durably, and which tables it covered. PostgreSQL cannot tell us: a
 * slot whose baseline was interrupted looks exactly like one whose baseline completed, and resuming
 * the former into empty targets would lose every row the baseline did not deliver.
 */
export interface SlotState {
  readonly slotName: string;
  /** Database system identifier (IDENTIFY_SYSTEM), so a state file is never applied to another cluster. */
  readonly systemId: string;
  readonly database: string;
  /** Consistent point of the slot the baseline was taken at (`X/X`). */
  readonly consistentPoint: string;
  readonly baselineComplete: boolean;
  /** Tables (`schema.table`) whose baseline is complete. */
  readonly tables: readonly string[];
  readonly updatedAt: string;
}

export interface SourceStateStore {
  load(slotName: string): Promise<SlotState | undefined>;
  save(state: SlotState): Promise<void>;
  remove(slotName: string): Promise<void>;
}

export class StateStoreError extends LaredoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STATE_STORE', message, { retryable: false, ...options });
  }
}

/** Keeps one JSON file per slot in `dir`, replaced atomically (write, fsync, rename). */
export function fileStateStore(dir: string): SourceStateStore {
  const file = (slotName: string): string => path.join(dir, `${slotName}.json`);
  return {
    async load(slotName) {
      let text: string;
      try {
        text = await readFile(file(slotName), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new StateStoreError(`cannot read the state of slot ${slotName} in ${dir}: ${(error as Error).message}`, { cause: error });
      }
      try {
        const state = JSON.parse(text) as SlotState;
        if (state.slotName !== slotName || typeof state.baselineComplete !== 'boolean' || !Array.isArray(state.tables)) {
          throw new Error('unexpected shape');
        }
        return state;
      } catch (error) {
        throw new StateStoreError(
          `the state file ${file(slotName)} is corrupt (${(error as Error).message}); delete it to re-baseline the slot`,
          { cause: error },
        );
      }
    },
    async save(state) {
      const target = file(state.slotName);
      try {
        await mkdir(dir, { recursive: true });
        const temporary = `${target}.${process.pid}.tmp`;
        await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`);
        const handle = await open(temporary, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temporary, target);
        // fsync the directory so the rename itself survives a crash.
        const dirHandle = await open(dir, 'r');
        try {
          await dirHandle.sync();
        } finally {
          await dirHandle.close();
        }
      } catch (error) {
        throw new StateStoreError(
          `cannot write the state of slot ${state.slotName} to ${target} (${(error as Error).message}): make the state directory (state_dir) writable and keep it on persistent storage`,
          { cause: error },
        );
      }
    },
    async remove(slotName) {
      await rm(file(slotName), { force: true });
    },
  };
}

/** For tests and embedded use where nothing must survive the process. */
export function memoryStateStore(): SourceStateStore & { readonly states: Map<string, SlotState> } {
  const states = new Map<string, SlotState>();
  return {
    states,
    load: (slotName) => Promise.resolve(states.get(slotName)),
    save: (state) => {
      states.set(state.slotName, state);
      return Promise.resolve();
    },
    remove: (slotName) => {
      states.delete(slotName);
      return Promise.resolve();
    },
  };
}
