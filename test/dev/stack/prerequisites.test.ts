// Prerequisite checks say which tool is missing or too old, and how to fix it.
import { describe, expect, it } from 'vitest';
import { checkNode } from '../../../dev/stack/prerequisites.ts';

describe('checkNode', () => {
  it.each(['20.0.0', '20.20.2', '22.11.0'])('accepts Node %s', (v) => {
    expect(() => checkNode(v)).not.toThrow();
  });

  it.each(['18.19.1', '16.20.0', 'garbage'])('rejects Node %s, saying 20 is needed', (v) => {
    expect(() => checkNode(v)).toThrow(/needs Node\.js 20 or newer/);
  });
});
