import { describe, expect, it } from 'vitest';
import { SlotError } from '../../src/streams/errors.js';
import { assertSlotUsable, type SlotInfo } from '../../src/streams/slot.js';

const usable: SlotInfo = {
  slotName: 'laredo_1',
  slotType: 'logical',
  plugin: 'pgoutput',
  database: 'app',
  temporary: false,
  active: false,
  activePid: null,
  restartLsn: 100n,
  confirmedFlushLsn: 200n,
  walStatus: 'reserved',
  safeWalSize: null,
  twoPhase: false,
  invalidationReason: null,
  invalidated: false,
};

function codeOf(info: SlotInfo | undefined, ownPid?: number): string {
  try {
    assertSlotUsable(info, { database: 'app', ...(ownPid === undefined ? {} : { ownPid }) }, 'laredo_1');
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(SlotError);
    expect((error as Error).message).toContain('laredo_1');
    return (error as SlotError).code;
  }
}

describe('assertSlotUsable', () => {
  it('accepts a valid logical pgoutput slot of the database, idle or held by our own walsender', () => {
    expect(codeOf(usable)).toBe('ok');
    expect(codeOf({ ...usable, active: true, activePid: 7 }, 7)).toBe('ok');
  });

  it('names each reason a slot cannot be used', () => {
    expect(codeOf(undefined)).toBe('SLOT_MISSING');
    expect(codeOf({ ...usable, slotType: 'physical', plugin: null, database: null })).toBe('SLOT_WRONG_TYPE');
    expect(codeOf({ ...usable, plugin: 'wal2json' })).toBe('SLOT_WRONG_PLUGIN');
    expect(codeOf({ ...usable, database: 'other' })).toBe('SLOT_WRONG_DATABASE');
    expect(codeOf({ ...usable, invalidated: true, walStatus: 'lost' })).toBe('SLOT_INVALIDATED');
    expect(codeOf({ ...usable, active: true, activePid: 99 }, 7)).toBe('SLOT_ACTIVE');
  });

  it('says what to do', () => {
    expect(() => assertSlotUsable({ ...usable, plugin: 'test_decoding' }, { database: 'app' })).toThrow(/uses output plugin test_decoding, laredo needs pgoutput.*pg_drop_replication_slot\('laredo_1'\)/);
    expect(() => assertSlotUsable({ ...usable, active: true, activePid: 4242 }, { database: 'app' })).toThrow(/in use by process 4242.*pg_terminate_backend\(4242\)/);
    const active = (() => {
      try {
        assertSlotUsable({ ...usable, active: true, activePid: 1 }, { database: 'app' });
      } catch (error) {
        return error as SlotError;
      }
      return undefined;
    })();
    expect(active?.retryable).toBe(true);
  });
});
