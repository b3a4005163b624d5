/**
 * Records encoded by a test, read back as another process reads its log: with a fresh codec, each
 * record that names an earlier one (a delta's or a packed message's base) read against it.
 */
import { RecordCodec } from '../../node/store/event-log-codec.js';

/** Every record of `records` (bytes by seq) read back: its event, or the complaint about it. */
export function readRecords(records: ReadonlyMap<number, Uint8Array>): ({ event: unknown } | { corrupt: string })[] {
  const reader = new RecordCodec('logs/test');
  const lookup = (seq: number): unknown => {
    const bytes = records.get(seq);
    return bytes === undefined ? undefined : reader.lmdbEncoder.decode(bytes);
  };
  return [...records].map(([seq, bytes]) => {
    const record = reader.checkEvent(seq, reader.lmdbEncoder.decode(bytes), lookup);
    return 'corrupt' in record ? { corrupt: record.corrupt } : { event: record.event };
  });
}
