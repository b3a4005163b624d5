/**
 * State and diff as lines of text. A component's whole state is far too big for a terminal pane,
 * so it is folded to what the selected entities touch: the entries whose key names one of them, or
 * whose content mentions one. Without a selection, each top-level field shows its size.
 */
import type { Patch } from 'immer';
import { flatTableChanges, flatTablePath, isTable } from '../core/table.js';

/** How far down the fold looks for a mention of an id. */
const maxMentionDepth = 6;

/** Whether `value` holds a string equal to or containing one of `ids`, within a few levels. */
function mentions(value: unknown, ids: readonly string[], depth: number): boolean {
  if (typeof value === 'string') return ids.some((id) => value === id || value.startsWith(`${id}.`));
  if (depth >= maxMentionDepth || typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some((item) => mentions(item, ids, depth + 1));
  for (const key in value as Record<string, unknown>) {
    if (ids.some((id) => key === id || key.startsWith(`${id}.`))) return true;
    if (mentions((value as Record<string, unknown>)[key], ids, depth + 1)) return true;
  }
  return false;
}

/**
 * `state` folded to what `ids` touch: records keep only the entries about them; the top level keeps
 * every scalar field (they are few and say what the component is).
 */
export function foldState(state: unknown, ids: readonly string[]): unknown {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return state;
  const folded: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(state as Record<string, unknown>)) {
    if (typeof value !== 'object' || value === null) {
      folded[key] = value;
      continue;
    }
    if (Array.isArray(value)) {
      const kept = value.filter((item) => mentions(item, ids, 0));
      if (kept.length > 0) folded[key] = kept;
      continue;
    }
    const kept: Record<string, unknown> = {};
    for (const [entryKey, entryValue] of Object.entries(value as Record<string, unknown>)) {
      if (ids.some((id) => entryKey === id || entryKey.startsWith(`${id}.`)) || mentions(entryValue, ids, 0)) kept[entryKey] = entryValue;
    }
    if (Object.keys(kept).length > 0) folded[key] = kept;
  }
  return folded;
}

/** A one-line summary of each top-level field: scalars as they are, containers by size. */
export function outlineState(state: unknown): string[] {
  if (typeof state !== 'object' || state === null) return [JSON.stringify(state) ?? 'undefined'];
  return Object.entries(state as Record<string, unknown>).map(([key, value]) => {
    if (Array.isArray(value)) return `${key}: [${value.length} items]`;
    if (isTable(value)) return `${key}: {${value.size} entries}`;
    if (typeof value === 'object' && value !== null) return `${key}: {${Object.keys(value).length} entries}`;
    return `${key}: ${JSON.stringify(value) ?? 'undefined'}`;
  });
}

/** `value` as indented lines (two spaces a level), each cut to `width` characters. */
export function valueLines(value: unknown, width: number): string[] {
  const text = JSON.stringify(value, null, 2) ?? 'undefined';
  return text.split('\n').map((line) => clip(line, width));
}

/** Immer patches as lines: `~ path = value`, `+ path = value`, `- path`. */
export function patchLines(patches: readonly Patch[], width: number): string[] {
  // Tables (core/table.ts) show as flat records: a patch on a new node of one is a change per entry.
  return patches.flatMap((patch) => {
    if (patch.op === 'remove') return [clip(`- ${flatTablePath(patch.path).map(String).join('.')}`, width)];
    const sign = patch.op === 'add' ? '+' : '~';
    return flatTableChanges(patch.path, patch.value).map((change) => clip(`${sign} ${change.path.map(String).join('.')} = ${JSON.stringify(change.value) ?? 'undefined'}`, width));
  });
}

/** `text` cut to `width` characters, with an ellipsis when cut. */
export function clip(text: string, width: number): string {
  if (width <= 0) return '';
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}
