import { Readable } from 'node:stream';
import { nextTurn } from '../core/index.js';

/** Items written between two turns of the event loop. */
const SLICE = 250;

/**
 * A JSON object whose last field is a long list, as a stream that writes the list SLICE items at a
 * time with a turn of the event loop between, so that serializing thousands of items does not hold
 * up requests waiting beside it (a `_bulk`, a health check).
 */
export function jsonWithList(fields: Readonly<Record<string, unknown>>, key: string, list: readonly unknown[]): Readable {
  async function* parts(): AsyncGenerator<string> {
    const head = JSON.stringify(fields);
    yield `${head === '{}' ? '{' : `${head.slice(0, -1)},`}${JSON.stringify(key)}:[`;
    for (let i = 0; i < list.length; i += SLICE) {
      if (i > 0) await nextTurn();
      yield (i > 0 ? ',' : '') + list.slice(i, i + SLICE).map((x) => JSON.stringify(x) ?? 'null').join(',');
    }
    yield ']}';
  }
  return Readable.from(parts(), { objectMode: false });
}

/** Whether a list is long enough to be written in slices. */
export const longList = (list: readonly unknown[]): boolean => list.length > SLICE;
