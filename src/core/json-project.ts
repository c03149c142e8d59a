/**
 * Reads the fields a caller needs out of one JSON object, from its bytes, without building the
 * document: what the hunt's workers do with every event line, where building the whole document
 * (as JSON.parse does) costs more than testing it. The text is checked in full, to the JSON
 * grammar, so a line is refused whenever JSON.parse would refuse it.
 *
 * Fields are given as paths (`["process", "parent", "name"]`); each gets a slot, and a read leaves
 * in `values[slot]` the field's whole value for each field the object has, its slot listed in
 * `filled` (the first `filledCount`). That is what a field read of the parsed document gives when
 * every field sits at one place. Where it might not — a key with a dot that leads to a wanted
 * field (`"process.name"`), an array above a wanted field, a key above or at a wanted field given
 * twice — the read answers false, as for bad JSON, and the caller parses the line in full, which
 * also says what is wrong.
 *
 * Only text of one byte per character (ASCII) is read here: `text` must hold the same characters
 * as `bytes` (strings are sliced from it).
 */
export interface ProjectionNode {
  readonly id: number;
  readonly next: Map<string, ProjectionNode>;
  /** The slot of the path that ends here, or -1. */
  slot: number;
  /** A key whose presence makes the read answer false (see `projection`'s `refuse`). */
  refuse?: boolean;
  /** Children by the bytes of their names: open addressing on `keyHash`, child index + 1. */
  table: Int32Array;
  readonly keys: Uint8Array[];
  readonly children: ProjectionNode[];
}

export interface Projection {
  readonly root: ProjectionNode;
  readonly nodes: number;
  readonly slots: number;
}

/**
 * The hash of a key's bytes [from, to): its length and its first and last two bytes, mixed. Keys
 * are short and differ at their ends; hashing every byte cost more than the odd extra comparison.
 */
function keyHash(b: ArrayLike<number>, from: number, to: number): number {
  const n = to - from;
  let h = Math.imul(n, 0x9e3779b1);
  if (n > 0) h ^= b[from]! | (b[to - 1]! << 8);
  if (n > 1) h ^= (b[from + 1]! << 16) | (b[to - 2]! << 24);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * The projection that reads these paths; path k fills slot k. A line with one of the `refuse` keys
 * at its top level is answered false (for a full parse), as a line the projection cannot read.
 */
export function projection(paths: ReadonlyArray<readonly string[]>, refuse: readonly string[] = []): Projection {
  let ids = 0;
  const node = (): ProjectionNode => ({ id: ids++, next: new Map(), slot: -1, table: new Int32Array(0), keys: [], children: [] });
  const root = node();
  // top-level keys that send the line to a full parse when present (a document that is not one)
  for (const key of refuse) {
    if (paths.some((p) => p[0] === key)) throw new Error(`projection: ${key} is both read and refused`);
    root.next.set(key, { ...node(), refuse: true });
  }
  paths.forEach((path, slot) => {
    let n = root;
    for (const seg of path) {
      let c = n.next.get(seg);
      if (!c) n.next.set(seg, (c = node()));
      n = c;
    }
    if (path.length > 0) n.slot = slot;
  });
  const index = (n: ProjectionNode): void => {
    let size = 4;
    while (size < n.next.size * 2) size *= 2;
    n.table = new Int32Array(size);
    for (const [name, child] of n.next) {
      index(child);
      // names outside ASCII never match an ASCII key: they stay out of the table
      if (!/^[\x20-\x7e]*$/.test(name) || name.includes('\\') || name.includes('"')) continue;
      const bytes = Uint8Array.from(name, (ch) => ch.charCodeAt(0));
      const h = keyHash(bytes, 0, bytes.length);
      let at = h & (size - 1);
      while (n.table[at] !== 0) at = (at + 1) & (size - 1);
      n.keys.push(bytes);
      n.children.push(child);
      n.table[at] = n.children.length;
    }
  };
  index(root);
  return { root, nodes: ids, slots: paths.length };
}

/** Nesting deeper than this is left to JSON.parse (no deep recursion here). */
const MAX_DEPTH = 256;
const FAIL = -1;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** Keys remembered per object position (see `JsonProjector.order`). */
const MAX_ORDER = 64;

/** Whether the bytes at `from`, before `end`, begin with `key`. */
function sameBytes(b: Uint8Array, from: number, end: number, key: Uint8Array): boolean {
  const n = key.length;
  if (from + n > end) return false;
  for (let j = 0; j < n; j++) if (b[from + j] !== key[j]) return false;
  return true;
}

/** Past the escape whose character (after the backslash) is at i: `\uXXXX` or one of `"\/bfnrt`; FAIL when it is no escape. */
function escapeEnd(b: Uint8Array, i: number): number {
  const d = b[i];
  if (d === 117 /* u */) {
    for (let k = 1; k <= 4; k++) {
      const x = b[i + k]! | 32;
      if (!(isDigit(x) || (x >= 97 && x <= 102))) return FAIL;
    }
    return i + 5;
  }
  return d === 34 || d === 92 || d === 47 || d === 98 || d === 102 || d === 110 || d === 114 || d === 116 ? i + 1 : FAIL;
}

function ws(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c === 32 || c === 10 || c === 13 || c === 9) c = b[++i];
  return i;
}

/** Where a dotted key leads from a node, or undefined. */
function leadsTo(node: ProjectionNode, key: string): ProjectionNode | undefined {
  let n: ProjectionNode | undefined = node;
  for (const part of key.split('.')) if ((n = n.next.get(part)) === undefined) return undefined;
  return n;
}

export class JsonProjector {
  /** By slot: the value of the last object read (valid for the slots in `filled`). */
  readonly values: unknown[];
  /** The slots the last object read has, in the order met: the first `filledCount`. */
  readonly filled: Int32Array;
  filledCount = 0;
  private b: Uint8Array = new Uint8Array(0);
  private text = '';
  private end = 0;
  /** The value the last build read. */
  private v: unknown = undefined;
  /** The elements of the arrays being read (see `whole`), the first `nElements`. */
  private readonly elements: unknown[] = [];
  private nElements = 0;
  /** Of the last string scanned: held an escape, held a dot, its hash. */
  private escaped = false;
  private dotted = false;
  private hash = 0;
  /** Per node, the read that last entered it (a key given twice is met twice). */
  private readonly entered: Int32Array;
  private readNo = 0;
  /**
   * Per node, the keys of the last object read there, by position: each as its bytes and closing
   * quote, and where it led (null: nowhere wanted). Objects at one place tend to list their keys in
   * one order, so a key is first compared with the one last seen at its position.
   */
  private readonly order: Uint8Array[][];
  private readonly orderChild: Array<Array<ProjectionNode | null>>;

  constructor(private readonly p: Projection) {
    this.values = new Array<unknown>(p.slots).fill(undefined);
    // a slot is filled at most once per read (a key met twice is refused)
    this.filled = new Int32Array(p.slots);
    this.entered = new Int32Array(p.nodes);
    this.order = Array.from({ length: p.nodes }, () => []);
    this.orderChild = Array.from({ length: p.nodes }, () => []);
  }

  /**
   * Reads the object at bytes [start, end): the whole range must be one JSON object, with JSON
   * whitespace around it. False when it is not, or when the read could differ from a full parse.
   */
  project(bytes: Uint8Array, text: string, start: number, end: number): boolean {
    this.b = bytes;
    this.text = text;
    this.end = end;
    this.filledCount = 0;
    this.readNo++;
    let i = ws(bytes, start);
    if (i >= end || bytes[i] !== 123 /* { */) return false;
    i = this.object(i, this.p.root, 0);
    if (i === FAIL) return false;
    // only whitespace may follow, up to the end (the byte there may be a line break: stop before it)
    for (let c = bytes[i]; i < end && (c === 32 || c === 10 || c === 13 || c === 9); c = bytes[++i]);
    return i === end;
  }

  /** Past a key that opens at i (a quote); FAIL when it is not a string. Sets escaped, dotted and the hash of its bytes. */
  private key(i: number): number {
    const b = this.b;
    const end = this.end;
    let esc = false;
    let dot = false;
    const from = ++i;
    for (;;) {
      if (i >= end) return FAIL;
      const c = b[i++]!;
      if (c === 34) break;
      if (c === 92) {
        esc = true;
        i = escapeEnd(b, i);
        if (i === FAIL) return FAIL;
      } else if (c < 32) return FAIL;
      else if (c === 46) dot = true;
    }
    this.escaped = esc;
    this.dotted = dot;
    this.hash = keyHash(b, from, i - 1);
    return i;
  }

  /** Past a string that opens at i (a quote), nothing else learnt but whether it held an escape; FAIL when it is not one. */
  private skipString(i: number): number {
    const b = this.b;
    let esc = false;
    let c = b[++i];
    for (;;) {
      // the common run: printable characters other than the quote and the backslash
      while (c !== undefined && ((c > 34 && c !== 92) || c === 32 || c === 33)) c = b[++i];
      if (c === 34) break;
      if (c !== 92) return FAIL; // a control character, or the end of the bytes
      esc = true;
      i = escapeEnd(b, i + 1);
      if (i === FAIL) return FAIL;
      c = b[i];
    }
    if (i >= this.end) return FAIL;
    this.escaped = esc;
    return i + 1;
  }

  /** The string token [start, stop) (quotes included), unescaped. */
  private stringValue(start: number, stop: number): string {
    return this.escaped ? (JSON.parse(this.text.slice(start, stop)) as string) : this.text.slice(start + 1, stop - 1);
  }

  private number(i: number): number {
    const b = this.b;
    if (b[i] === 45) i++;
    let c = b[i]!;
    if (c === 48) i++;
    else if (c >= 49 && c <= 57) {
      do c = b[++i]!;
      while (isDigit(c));
    } else return FAIL;
    if (b[i] === 46) {
      if (!isDigit(b[++i]!)) return FAIL;
      do c = b[++i]!;
      while (isDigit(c));
    }
    c = b[i]!;
    if (c === 101 || c === 69) {
      c = b[++i]!;
      if (c === 43 || c === 45) c = b[++i]!;
      if (!isDigit(c)) return FAIL;
      do c = b[++i]!;
      while (isDigit(c));
    }
    return i;
  }

  /** Past a literal or number at i. */
  private scalarEnd(i: number): number {
    const b = this.b;
    switch (b[i]) {
      case 116:
        return b[i + 1] === 114 && b[i + 2] === 117 && b[i + 3] === 101 ? i + 4 : FAIL;
      case 102:
        return b[i + 1] === 97 && b[i + 2] === 108 && b[i + 3] === 115 && b[i + 4] === 101 ? i + 5 : FAIL;
      case 110:
        return b[i + 1] === 117 && b[i + 2] === 108 && b[i + 3] === 108 ? i + 4 : FAIL;
      default:
        return this.number(i);
    }
  }

  /** A literal or number at i, into `v`. */
  private scalar(i: number): number {
    const stop = this.scalarEnd(i);
    if (stop === FAIL) return FAIL;
    const b = this.b;
    const c = b[i];
    this.v = c === 116 ? true : c === 102 ? false : c === 110 ? null : this.numberValue(b, i, stop);
    return stop;
  }

  /** The number [start, stop) (checked to the grammar): an integer of up to 15 digits from its digits, which is exact; any other as text. */
  private numberValue(b: Uint8Array, start: number, stop: number): number {
    const neg = b[start] === 45;
    let k = neg ? start + 1 : start;
    if (stop - k <= 15) {
      let n = 0;
      for (; k < stop; k++) {
        const d = b[k]! - 48;
        if (d < 0 || d > 9) break;
        n = n * 10 + d;
      }
      if (k === stop) return neg ? -n : n;
    }
    return Number(this.text.slice(start, stop));
  }

  /** Past a value, nothing built. */
  private skip(i: number, depth: number): number {
    const b = this.b;
    const c = b[i];
    if (c === 34) return this.skipString(i);
    if (c !== 123 && c !== 91) return this.scalarEnd(i);
    if (depth >= MAX_DEPTH) return FAIL;
    const close = c === 123 ? 125 : 93;
    i = ws(b, i + 1);
    if (b[i] === close) return i + 1;
    for (;;) {
      if (c === 123) {
        if (b[i] !== 34) return FAIL;
        i = this.skipString(i);
        if (i === FAIL) return FAIL;
        i = ws(b, i);
        if (b[i] !== 58) return FAIL;
        i = ws(b, i + 1);
      }
      i = this.skip(i, depth + 1);
      if (i === FAIL) return FAIL;
      i = ws(b, i);
      const d = b[i++];
      if (d === close) return i;
      if (d !== 44) return FAIL;
      i = ws(b, i);
    }
  }

  /** A value built in full, into `v`. */
  private whole(i: number, depth: number): number {
    const b = this.b;
    const c = b[i];
    if (c === 34) {
      const stop = this.skipString(i);
      if (stop !== FAIL) this.v = this.stringValue(i, stop);
      return stop;
    }
    if (depth >= MAX_DEPTH) return FAIL;
    if (c === 123) {
      const o: Record<string, unknown> = {};
      i = ws(b, i + 1);
      if (b[i] === 125) return (this.v = o), i + 1;
      for (;;) {
        if (b[i] !== 34) return FAIL;
        const ks = i;
        i = this.skipString(i);
        if (i === FAIL) return FAIL;
        const key = this.stringValue(ks, i);
        i = ws(b, i);
        if (b[i] !== 58) return FAIL;
        i = this.whole(ws(b, i + 1), depth + 1);
        if (i === FAIL) return FAIL;
        // as JSON.parse does: `__proto__` is a key like any other, and a later duplicate wins
        if (key === '__proto__') Object.defineProperty(o, key, { value: this.v, writable: true, enumerable: true, configurable: true });
        else o[key] = this.v;
        i = ws(b, i);
        const d = b[i++];
        if (d === 125) return (this.v = o), i;
        if (d !== 44) return FAIL;
        i = ws(b, i);
      }
    }
    if (c === 91) {
      i = ws(b, i + 1);
      if (b[i] === 93) return (this.v = []), i + 1;
      // elements gather on a stack shared by every array being read, and the array is made at its
      // size once they are all read (pushing onto a new array made room for 17 at the first element)
      const stack = this.elements;
      const base = this.nElements;
      for (;;) {
        i = this.whole(i, depth + 1);
        if (i === FAIL) return (this.nElements = base), FAIL;
        stack[this.nElements++] = this.v;
        i = ws(b, i);
        const d = b[i++];
        if (d === 93) {
          const a = stack.slice(base, this.nElements);
          // the stack holds no value (nor the text it may be cut from) past its event
          for (let k = base; k < this.nElements; k++) stack[k] = undefined;
          this.nElements = base;
          return (this.v = a), i;
        }
        if (d !== 44) return (this.nElements = base), FAIL;
        i = ws(b, i);
      }
    }
    return this.scalar(i);
  }

  /** The child a key's bytes [from, to) name, by the hash `string` left. */
  private child(node: ProjectionNode, from: number, to: number): ProjectionNode | undefined {
    const table = node.table;
    const mask = table.length - 1;
    const b = this.b;
    const len = to - from;
    for (let at = this.hash & mask; ; at = (at + 1) & mask) {
      const k = table[at]!;
      if (k === 0) return undefined;
      const key = node.keys[k - 1]!;
      if (key.length === len && sameBytes(b, from, to, key)) return node.children[k - 1];
    }
  }

  /** An object under a node: wanted fields into their slots, the rest skipped. */
  private object(i: number, node: ProjectionNode, depth: number): number {
    if (depth >= MAX_DEPTH || this.entered[node.id] === this.readNo) return FAIL;
    this.entered[node.id] = this.readNo;
    const b = this.b;
    const order = this.order[node.id]!;
    const orderChild = this.orderChild[node.id]!;
    i = ws(b, i + 1);
    if (b[i] === 125) return i + 1;
    for (let at = 0; ; at++) {
      if (b[i] !== 34) return FAIL;
      const ks = i;
      let child: ProjectionNode | undefined | null;
      const seen = order[at];
      if (seen !== undefined && sameBytes(b, ks + 1, this.end, seen)) {
        // the key last seen at this position (its bytes hold no escape, dot or quote: it reads the same)
        i = ks + 1 + seen.length;
        child = orderChild[at]!;
      } else {
        i = this.key(i);
        if (i === FAIL) return FAIL;
        if (this.escaped || this.dotted) {
          // rare: a key written with escapes, or with dots (which may reach a wanted field another way)
          const key = this.stringValue(ks, i);
          child = node.next.get(key);
          if (child === undefined && key.includes('.') && leadsTo(node, key) !== undefined) return FAIL;
        } else {
          child = this.child(node, ks + 1, i - 1);
          if (at < MAX_ORDER) {
            // a copy (a Buffer's slice would share memory that a reader may fill again)
            order[at] = Uint8Array.prototype.slice.call(b, ks + 1, i);
            orderChild[at] = child ?? null;
          }
        }
      }
      if (child?.refuse) return FAIL;
      i = ws(b, i);
      if (b[i] !== 58) return FAIL;
      i = ws(b, i + 1);
      i = child === undefined || child === null ? this.skip(i, depth + 1) : this.field(i, child, depth + 1);
      if (i === FAIL) return FAIL;
      i = ws(b, i);
      const d = b[i++];
      if (d === 125) return i;
      if (d !== 44) return FAIL;
      i = ws(b, i);
    }
  }

  /** The value of a key that leads to wanted fields. */
  private field(i: number, node: ProjectionNode, depth: number): number {
    const c = this.b[i];
    if (node.slot >= 0) {
      if (this.entered[node.id] === this.readNo) return FAIL;
      this.entered[node.id] = this.readNo;
      i = this.whole(i, depth);
      if (i === FAIL) return FAIL;
      this.values[node.slot] = this.v;
      this.filled[this.filledCount++] = node.slot;
      // wanted fields inside a wanted field: read from the value just built
      if (node.next.size > 0 && !this.inner(this.v, node)) return FAIL;
      return i;
    }
    if (c === 123) return this.object(i, node, depth);
    // an array above a wanted field spreads it over its elements: left to a full parse
    if (c === 91) return FAIL;
    // a scalar holds no field
    return this.skip(i, depth);
  }

  /** Fills the slots under `node` from a value built whole; false when its shape needs a full parse. */
  private inner(v: unknown, node: ProjectionNode): boolean {
    if (v === null || typeof v !== 'object') return true;
    if (Array.isArray(v)) return false;
    for (const [key, x] of Object.entries(v as Record<string, unknown>)) {
      const child = node.next.get(key);
      if (child === undefined) {
        if (key.includes('.') && leadsTo(node, key) !== undefined) return false;
        continue;
      }
      if (this.entered[child.id] === this.readNo) return false;
      this.entered[child.id] = this.readNo;
      if (child.slot >= 0) {
        this.values[child.slot] = x;
        this.filled[this.filledCount++] = child.slot;
      }
      if (child.next.size > 0 && !this.inner(x, child)) return false;
    }
    return true;
  }
}
