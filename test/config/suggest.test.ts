import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from '../../src/config/suggest.js';

const SOURCE_KEYS = ['type', 'connection', 'slot_mode', 'slot_name', 'publication', 'reconnect', 'baseline_batch_size', 'baseline_parallelism'];

describe('closestMatch', () => {
  it('suggests the key meant by a typo, another spelling or a shortened name', () => {
    expect(closestMatch('slot_nmae', SOURCE_KEYS)).toBe('slot_name');
    expect(closestMatch('slotName', SOURCE_KEYS)).toBe('slot_name');
    expect(closestMatch('SLOT-MODE', SOURCE_KEYS)).toBe('slot_mode');
    expect(closestMatch('conection', SOURCE_KEYS)).toBe('connection');
    expect(closestMatch('batch_size', SOURCE_KEYS)).toBe('baseline_batch_size');
  });

  it('suggests nothing when no key is close', () => {
    expect(closestMatch('kafka', SOURCE_KEYS)).toBeUndefined();
    expect(closestMatch('port', ['path', 'level'])).toBeUndefined();
  });
});

describe('editDistance', () => {
  it('counts an adjacent swap as one edit', () => {
    expect(editDistance('nmae', 'name')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
