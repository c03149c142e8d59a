import { createReadStream, type ReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * A hunt's input, read in chunks of whole lines: plain files straight into pooled buffers that go to
 * the worker threads without a copy; gzip files and standard input through streams.
 */

/** A piece of one input: whole lines, the first of them numbered `firstLine`; its buffer is handed over, not copied. */
export interface HuntChunk {
  readonly fi: number;
  readonly firstLine: number;
  readonly bytes: Uint8Array;
  /** Lines the reader skipped before this chunk's (too long), as bad lines; they come first in the answer. */
  readonly skipped?: ReadonlyArray<{ lineNo: number; message: string }>;
}

/** What the reader takes of a hunt's options (see HuntOptions). */
export interface InputOptions {
  readonly stdin?: Readable;
  readonly maxLineBytes?: number;
}

/** The size of a chunk of input: large enough that a worker's answer costs little per event. */
const CHUNK_BYTES = 1 << 20;

/**
 * Chunk buffers for reuse: each goes to a worker, comes back with its answer, and is read into
 * again once its candidates are fed. (A megabyte allocated per chunk and dropped after cost the main
 * thread 2.7 s of garbage collection per million events.)
 */
export class ChunkPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly keep: number) {}

  /** A buffer of at least `size` bytes (a pooled one when `size` fits the pool's). */
  take(size: number): ArrayBuffer {
    if (size <= CHUNK_BYTES) return this.free.pop() ?? new ArrayBuffer(CHUNK_BYTES);
    return new ArrayBuffer(size);
  }

  /** A buffer back, when it is the pool's size, not detached, and the pool wants more. */
  give(b: ArrayBuffer | undefined): void {
    if (b !== undefined && b.byteLength === CHUNK_BYTES && this.free.length < this.keep) this.free.push(b);
  }
}

/** Why an input stopped being read, after how many of its lines (see ReadError). */
export class InputError extends Error {
  constructor(
    message: string,
    readonly lines: number,
  ) {
    super(message);
  }
}

/**
 * The chunks of one input, cut at line ends; `bytesRead` counts what was read. Each chunk has a
 * buffer of its own (from the pool), so it can be handed to a worker thread without a copy. A plain
 * file is read straight into the chunk's buffer; stdin and gzip come through a stream.
 * An error while reading ends the input with an InputError that says how many lines were handed on.
 */
export async function* inputChunks(file: string, fi: number, o: InputOptions, progress: { bytesRead: number }, pool: ChunkPool): AsyncGenerator<HuntChunk> {
  const at = { line: 1 };
  try {
    yield* readChunks(file, fi, o, progress, pool, at);
  } catch (e) {
    // the lines handed on so far stand; a line cut short by the error is not one of them
    throw new InputError(e instanceof Error ? e.message : String(e), at.line - 1);
  }
}

/** The longest line read by default (see HuntOptions.maxLineBytes). */
const MAX_LINE_BYTES = 64 * 1048576;

/** The chunks of one input; `at.line` is the number of the next line to hand on. */
async function* readChunks(file: string, fi: number, o: InputOptions, progress: { bytesRead: number }, pool: ChunkPool, at: { line: number }): AsyncGenerator<HuntChunk> {
  const maxLine = Math.max(CHUNK_BYTES, o.maxLineBytes ?? MAX_LINE_BYTES);
  const tooLong = `line longer than ${maxLine >= 1048576 ? `${Math.round(maxLine / 1048576)} MiB` : `${maxLine} bytes`}: skipped`;
  /** Lines skipped since the last chunk, for the next one to carry. */
  let skipped: Array<{ lineNo: number; message: string }> = [];
  const skip = (): void => {
    skipped.push({ lineNo: at.line, message: tooLong });
    at.line++;
  };
  const chunk = (buf: ArrayBuffer, end: number): HuntChunk => {
    const bytes = new Uint8Array(buf, 0, end);
    const c: HuntChunk = skipped.length ? { fi, firstLine: at.line, bytes, skipped } : { fi, firstLine: at.line, bytes };
    skipped = [];
    const b = Buffer.from(buf, 0, end);
    let lines = 0;
    for (let nl = b.indexOf(10); nl >= 0; nl = b.indexOf(10, nl + 1)) lines++;
    // a chunk ends at a line end, or at the end of the input with a last line of its own
    if (end > 0) at.line += b[end - 1] === 10 ? lines : lines + 1;
    return c;
  };
  if (file !== '-' && !file.endsWith('.gz')) {
    const fh = await open(file, 'r');
    try {
      let carry: Uint8Array = new Uint8Array(0);
      reading: for (;;) {
        // the line carried over, then as much of the file as fits; a line longer than a chunk gets a buffer
        // of its own. No buffer is longer than the longest line, so a line that fills one is too long,
        // and any line that ends in one is not
        let buf = pool.take(Math.min(carry.length + CHUNK_BYTES / 2, maxLine));
        new Uint8Array(buf).set(carry);
        let filled = carry.length;
        let last = -1;
        let eof = false;
        for (;;) {
          const { bytesRead } = await fh.read(new Uint8Array(buf), filled, buf.byteLength - filled, null);
          progress.bytesRead += bytesRead;
          filled += bytesRead;
          if (bytesRead === 0) eof = true;
          last = Buffer.from(buf, 0, filled).lastIndexOf(10);
          // (the carry holds no line end, unless it is what followed a line too long: then it may)
          if (last >= 0 || eof) break;
          if (filled === buf.byteLength) {
            if (buf.byteLength >= maxLine) {
              // the buffer holds one line, and it is too long: the rest of it is read past, not held
              pool.give(buf);
              skip();
              const scratch = new Uint8Array(pool.take(CHUNK_BYTES));
              for (;;) {
                const { bytesRead: n } = await fh.read(scratch, 0, scratch.length, null);
                progress.bytesRead += n;
                if (n === 0) {
                  pool.give(scratch.buffer);
                  break reading;
                }
                const nl = scratch.subarray(0, n).indexOf(10);
                if (nl >= 0) {
                  carry = scratch.slice(nl + 1, n);
                  pool.give(scratch.buffer);
                  continue reading;
                }
              }
            }
            const bigger = new ArrayBuffer(Math.min(buf.byteLength * 2, maxLine));
            new Uint8Array(bigger).set(new Uint8Array(buf));
            pool.give(buf);
            buf = bigger;
          }
        }
        const end = eof && last < filled - 1 ? filled : last + 1;
        if (end === 0) {
          pool.give(buf);
          break;
        }
        carry = new Uint8Array(buf, end, filled - end).slice();
        yield chunk(buf, end);
        if (eof && carry.length === 0) break;
      }
    } finally {
      await fh.close();
    }
  } else {
    let raw: Readable;
    if (file === '-') raw = o.stdin ?? process.stdin;
    else {
      const rs: ReadStream = createReadStream(file, { highWaterMark: CHUNK_BYTES });
      rs.on('data', (b) => (progress.bytesRead += b.length));
      // a pipeline, not pipe: an error of either stream (a file that cannot be read, a corrupt or
      // truncated gzip) ends the reading below with it, and both streams are closed
      raw = pipeline(rs, createGunzip({ chunkSize: CHUNK_BYTES }), () => {});
    }
    // the start of a line not ended yet, in the pieces it came in (joined once its end comes: joining
    // at every piece took time growing with the square of a long line's length)
    let carry: Buffer[] = [];
    let carryBytes = 0;
    let skipping = false;
    const cut = (data: Buffer, end: number): HuntChunk => {
      const buf = pool.take(end);
      new Uint8Array(buf).set(data.subarray(0, end));
      return chunk(buf, end);
    };
    for await (const p of raw) {
      // (a file's bytes are counted as they are read; standard input's here)
      if (file === '-') progress.bytesRead += (p as Buffer).length;
      // pieces of at most a chunk: a line that ends within one is shorter than the longest line
      for (let off = 0; off < (p as Buffer).length; off += CHUNK_BYTES) {
        let piece = (p as Buffer).subarray(off, off + CHUNK_BYTES);
        if (skipping) {
          // past the rest of a line too long to hold
          const nl = piece.indexOf(10);
          if (nl < 0) continue;
          skipping = false;
          piece = piece.subarray(nl + 1);
        }
        const last = piece.lastIndexOf(10);
        if (last < 0) {
          carry.push(Buffer.from(piece));
          carryBytes += piece.length;
          if (carryBytes >= maxLine) {
            skip();
            carry = [];
            carryBytes = 0;
            skipping = true;
          }
          continue;
        }
        const first = piece.indexOf(10);
        if (carryBytes + first >= maxLine) {
          // the carried line ends here, too long: skipped; the lines after it go on
          skip();
          if (last > first) yield cut(piece.subarray(first + 1), last - first);
        } else if (carry.length) yield cut(Buffer.concat([...carry, piece.subarray(0, last + 1)]), carryBytes + last + 1);
        else yield cut(piece, last + 1);
        carry = last + 1 < piece.length ? [Buffer.from(piece.subarray(last + 1))] : [];
        carryBytes = piece.length - last - 1;
      }
    }
    if (carryBytes > 0 && !skipping) yield cut(Buffer.concat(carry), carryBytes);
  }
  // skipped lines that no chunk came after to carry: an empty chunk carries them
  if (skipped.length) yield chunk(pool.take(0), 0);
}
