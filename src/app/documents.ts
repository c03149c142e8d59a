import type { StoredEvent, Store } from '../store/index.js';

/**
 * The stored documents and the small named settings kept beside them (mappings, templates,
 * aliases), as the search and index APIs read and change them. The service's door to the event
 * store for everything that is not ingest or detection.
 */
export class Documents {
  constructor(private readonly store: Pick<Store, 'events' | 'meta'>) {}

  resolve(patterns: readonly string[]): string[] {
    return this.store.events.resolve(patterns);
  }

  /** The documents of the named indices, in time order; bounds on the timestamp (exclusive after, inclusive upTo). */
  scan(indices: readonly string[], bounds: { after?: number; upTo?: number } = {}): IterableIterator<StoredEvent> {
    return this.store.events.scan({ patterns: indices, after: bounds.after, upTo: bounds.upTo });
  }

  get(index: string, id: string): StoredEvent | null {
    return this.store.events.get(index, id);
  }

  lastSeq(): number {
    return this.store.events.lastSeq();
  }

  remove(index: string, id: string): { seq: number; version: number } | null {
    return this.store.events.remove(index, id);
  }

  dropIndices(names: readonly string[]): number {
    return this.store.events.dropIndices(names);
  }

  indices(): Array<{ name: string; docs: number }> {
    return this.store.events.indices();
  }

  setting(key: string): string | null {
    return this.store.meta.get(key);
  }

  putSetting(key: string, value: string): void {
    this.store.meta.put(key, value);
  }

  removeSetting(key: string): boolean {
    return this.store.meta.remove(key);
  }

  settings(prefix: string): Array<{ key: string; value: string }> {
    return this.store.meta.list(prefix);
  }
}
