/**
 * Which of many literal pieces occur in a text, found in one left-to-right scan (Aho–Corasick
 * compiled to a dense table: one array read per character). Pieces and texts are compared as given;
 * callers fold case first when they want case-insensitive finds.
 */
export class PieceAutomaton {
  /** Class of each ASCII code (0: a character no piece contains). */
  private readonly ascii = new Uint16Array(128);
  /** Classes of the other characters that pieces contain. */
  private readonly wide = new Map<number, number>();
  private readonly width: number;
  private readonly next: Int32Array;
  /** Per state, the payloads of every piece that ends there (its own and its suffixes'). */
  private readonly found: (readonly number[] | null)[];

  /** `pieces[i]` carries the payload numbers `payloads[i]`; empty pieces are not allowed. */
  constructor(pieces: readonly string[], payloads: readonly (readonly number[])[]) {
    let classes = 1;
    const classOf = (c: number): number => {
      if (c < 128) {
        if (this.ascii[c] === 0) this.ascii[c] = classes++;
        return this.ascii[c]!;
      }
      let k = this.wide.get(c);
      if (k === undefined) this.wide.set(c, (k = classes++));
      return k;
    };
    if (pieces.some((p) => p.length === 0)) throw new Error('PieceAutomaton: empty piece');
    // the trie
    const edges: Map<number, number>[] = [new Map()];
    const own: number[][] = [[]];
    pieces.forEach((p, i) => {
      let s = 0;
      for (let k = 0; k < p.length; k++) {
        const c = classOf(p.charCodeAt(k));
        let t = edges[s]!.get(c);
        if (t === undefined) {
          t = edges.length;
          edges.push(new Map());
          own.push([]);
          edges[s]!.set(c, t);
        }
        s = t;
      }
      own[s]!.push(...payloads[i]!);
    });
    this.width = classes;
    const n = edges.length;
    const next = new Int32Array(n * classes);
    const fail = new Int32Array(n);
    const found: (number[] | null)[] = new Array(n).fill(null);
    found[0] = own[0]!.length ? [...own[0]!] : null;
    // breadth first: a state's fail link and row are complete before its children's
    const queue: number[] = [];
    for (let c = 0; c < classes; c++) {
      const t = edges[0]!.get(c);
      if (t !== undefined) {
        next[c] = t;
        fail[t] = 0;
        queue.push(t);
      }
    }
    for (let h = 0; h < queue.length; h++) {
      const s = queue[h]!;
      const out = [...own[s]!, ...(found[fail[s]!] ?? [])];
      found[s] = out.length ? [...new Set(out)] : null;
      for (let c = 0; c < classes; c++) {
        const t = edges[s]!.get(c);
        if (t === undefined) next[s * classes + c] = next[fail[s]! * classes + c]!;
        else {
          next[s * classes + c] = t;
          fail[t] = next[fail[s]! * classes + c]!;
          queue.push(t);
        }
      }
    }
    this.next = next;
    this.found = found;
  }

  /** Calls `hit` with the payloads of every piece found in `text` (a payload may come more than once). */
  scan(text: string, hit: (payload: number) => void): void {
    const { ascii, wide, width, next, found } = this;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      const k = c < 128 ? ascii[c]! : (wide.get(c) ?? 0);
      s = next[s * width + k]!;
      const f = found[s];
      if (f != null) for (let j = 0; j < f.length; j++) hit(f[j]!);
    }
  }
}
