/**
 * The write guard's fingerprints over an object's bytes: the sampled mode always covers the edges
 * of each range and any run of changed words as long as its stride (which grows with the range, so
 * that a check of a large array reads at most a few thousand words), and the full mode every word.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimWriteReport, guardHeaderBytes, sealFingerprint, type WriteCheckMode } from '../../../node/store/write-guard.js';

const mib = 1024 * 1024;
/** 8 MiB: 2 Mi words, past the 4,096 samples at one per KiB, so the sampled stride is 2 KiB. */
const rangeBytes = 8 * mib;
const strideBytes = 2048;
const dataOffset = guardHeaderBytes;

/** Whether `write` to a freshly sealed object of one 8 MiB range is reported, in `mode`. */
function caught(mode: WriteCheckMode, write: (words: Int32Array) => void): boolean {
  const buffer = new SharedArrayBuffer(dataOffset + rangeBytes);
  const words = new Int32Array(buffer, dataOffset, rangeBytes / 4);
  for (let index = 0; index < words.length; index += 1) words[index] = index;
  const ranges = [[0, rangeBytes]] as const;
  sealFingerprint(buffer, dataOffset, ranges, mode);
  write(words);
  return claimWriteReport(buffer, dataOffset, ranges);
}

void test('the sampled mode reports a write to the first or last word of a large range, and nothing when nothing changed', () => {
  assert.equal(caught('sampled', () => undefined), false);
  assert.equal(caught('sampled', (words) => (words[0] = -1)), true);
  assert.equal(caught('sampled', (words) => (words[words.length - 1] = -1)), true);
});

void test('the sampled mode reports any change of a run of words as long as its stride, wherever it lies', () => {
  for (const startBytes of [64, 1_000_000, 3 * mib + 4, rangeBytes - 64 - strideBytes]) {
    const start = startBytes / 4;
    assert.equal(caught('sampled', (words) => words.fill(-1, start, start + strideBytes / 4)), true, `a run at byte ${startBytes}`);
  }
});

void test('the full mode reports a change of any single word', () => {
  for (const index of [1, 54_321, rangeBytes / 4 - 17]) {
    assert.equal(caught('full', (words) => (words[index] = -1)), true, `a write at word ${index}`);
  }
});

void test('a write is reported once, to the first caller that finds it', () => {
  const buffer = new SharedArrayBuffer(dataOffset + 4096);
  const ranges = [[0, 4096]] as const;
  sealFingerprint(buffer, dataOffset, ranges, 'sampled');
  new Int32Array(buffer, dataOffset, 1)[0] = 9;
  assert.equal(claimWriteReport(buffer, dataOffset, ranges), true);
  assert.equal(claimWriteReport(buffer, dataOffset, ranges), false);
});
