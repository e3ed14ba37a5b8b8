import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileStateStore, memoryStateStore, StateStoreError, type SlotState } from '../../src/source/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'laredo-state-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const state: SlotState = {
  slotName: 'laredo_warden_01',
  systemId: '7312345678901234567',
  database: 'app',
  consistentPoint: '0/16B3748',
  baselineComplete: true,
  tables: ['public.rules'],
  updatedAt: '2024-01-02T03:04:05.000Z',
};

describe('fileStateStore', () => {
  it('remembers a slot’s state across instances (a restart), one JSON file per slot, replaced whole', async () => {
    await fileStateStore(dir).save({ ...state, baselineComplete: false, tables: [] });
    await fileStateStore(dir).save(state);
    expect(await fileStateStore(dir).load('laredo_warden_01')).toEqual(state);
    expect(await readdir(dir)).toEqual(['laredo_warden_01.json']);
    expect(JSON.parse(await readFile(path.join(dir, 'laredo_warden_01.json'), 'utf8'))).toEqual(state);
  });

  it('knows nothing of a slot it never saved, and forgets a removed one', async () => {
    const store = fileStateStore(path.join(dir, 'not-yet-created'));
    expect(await store.load('laredo_warden_01')).toBeUndefined();
    await store.save(state);
    await store.remove('laredo_warden_01');
    expect(await store.load('laredo_warden_01')).toBeUndefined();
  });

  it('a corrupt or foreign state file is a StateStoreError that says to delete it (never a silent re-use)', async () => {
    const file = path.join(dir, 'laredo_warden_01.json');
    for (const content of ['{ torn', JSON.stringify({ ...state, slotName: 'another' }), JSON.stringify({ slotName: 'laredo_warden_01' })]) {
      await writeFile(file, content);
      const error = await fileStateStore(dir).load('laredo_warden_01').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StateStoreError);
      expect((error as StateStoreError).message).toContain(file);
      expect((error as StateStoreError).message).toMatch(/delete it to re-baseline/);
    }
  });
});

describe('memoryStateStore', () => {
  it('keeps states for the life of the process', async () => {
    const store = memoryStateStore();
    await store.save(state);
    expect(await store.load('laredo_warden_01')).toEqual(state);
    expect([...store.states.keys()]).toEqual(['laredo_warden_01']);
  });
});

describe('fileStateStore failures', () => {
  it('a state directory that cannot be written is a StateStoreError naming the file and the fix', async () => {
    const blocker = path.join(dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    const error = await fileStateStore(path.join(blocker, 'state')).save(state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateStoreError);
    expect((error as StateStoreError).message).toMatch(/laredo_warden_01.*make the state directory \(state_dir\) writable/);
  });
});
