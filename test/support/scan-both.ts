import assert from 'node:assert/strict';
import { JsonProjector, projection } from '../../src/core/index.js';
import { RuleIndex, type RuleSetEntry, type RuleSetHit } from '../../src/engine/index.js';

/**
 * Scans events two ways with the same rules — as their fields, read from their JSON text by the
 * projector (as hunt's workers do), and as their parsed documents — and asserts that both give the
 * same hits (by `key`) and the same stateful codes.
 */
export class ScanBothWays<R> {
  private readonly byFields: RuleIndex<R>;
  private readonly byDocument: RuleIndex<R>;
  private readonly projector: JsonProjector;
  /** Events read as fields, hits and codes seen so far. */
  read = 0;
  hits = 0;
  codes = 0;

  constructor(
    entries: ReadonlyArray<RuleSetEntry<R>>,
    private readonly key: (rule: R) => string,
  ) {
    this.byFields = new RuleIndex(entries);
    this.byDocument = new RuleIndex(entries);
    this.projector = new JsonProjector(projection(this.byFields.fieldsScanned()));
  }

  /** Compares one event; false when the projector leaves its line to a full parse. */
  compare(doc: Record<string, unknown>): boolean {
    const line = JSON.stringify(doc);
    const bytes = Buffer.from(line, 'latin1');
    const a = { hits: [] as Array<RuleSetHit<R>>, codes: [] as number[] };
    const b = { hits: [] as Array<RuleSetHit<R>>, codes: [] as number[] };
    this.byDocument.scan({ _index: 'i', _source: doc }, b.hits, b.codes);
    if (!this.projector.project(bytes, line, 0, bytes.length)) return false;
    this.byFields.scanFields(this.projector.values, this.projector.filled, this.projector.filledCount, { _index: 'i' }, a.hits, a.codes);
    assert.deepEqual(a.hits.map((h) => this.key(h.rule)), b.hits.map((h) => this.key(h.rule)), line);
    assert.deepEqual(a.codes, b.codes, line);
    this.read++;
    this.hits += a.hits.length;
    this.codes += a.codes.length;
    return true;
  }
}
