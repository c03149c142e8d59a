/** CIDR matching for IPv4 and IPv6, on addresses parsed to BigInt. */

function parseV4(s: string): bigint | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(s: string): bigint | null {
  let text = s;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: bigint | null = null;
  // embedded IPv4 (::ffff:1.2.3.4)
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.') && lastColon >= 0) {
    tail = parseV4(text.slice(lastColon + 1));
    if (tail === null) return null;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const rest = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return null;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...rest];
  if (groups.length !== 8) return null;
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail !== null) n = (n & ~0xffffffffn) | tail;
  return n;
}

export interface IpAddress {
  readonly v6: boolean;
  readonly value: bigint;
}

// rules test the same few addresses of an event many times (one cidrMatch per rule): remember them
const ipCache = new Map<string, IpAddress | null>();

export function parseIp(s: string): IpAddress | null {
  const hit = ipCache.get(s);
  if (hit !== undefined) return hit;
  const r = parseIpUncached(s);
  if (ipCache.size >= 4096) ipCache.clear();
  ipCache.set(s, r);
  return r;
}

function parseIpUncached(s: string): IpAddress | null {
  const v4 = parseV4(s);
  if (v4 !== null) return { v6: false, value: v4 };
  const v6 = parseV6(s);
  return v6 === null ? null : { v6: true, value: v6 };
}

export interface Cidr {
  readonly v6: boolean;
  readonly network: bigint;
  readonly mask: bigint;
}

const cidrCache = new Map<string, Cidr | null>();

/** Parses "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128); rules repeat a few blocks, so parses are kept. */
export function parseCidr(s: string): Cidr | null {
  let c = cidrCache.get(s);
  if (c === undefined) {
    c = parseCidrUncached(s);
    if (cidrCache.size > 10_000) cidrCache.clear();
    cidrCache.set(s, c);
  }
  return c;
}

function parseCidrUncached(s: string): Cidr | null {
  const slash = s.indexOf('/');
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip) return null;
  const bits = ip.v6 ? 128 : 32;
  const prefix = slash < 0 ? bits : Number(s.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return null;
  const all = (1n << BigInt(bits)) - 1n;
  const mask = prefix === 0 ? 0n : (all << BigInt(bits - prefix)) & all;
  return { v6: ip.v6, network: ip.value & mask, mask };
}

export function cidrContains(c: Cidr, ip: IpAddress): boolean {
  if (c.v6 !== ip.v6) {
    // an IPv4 address also matches IPv4-mapped IPv6 blocks (::ffff:0:0/96)
    if (c.v6 && !ip.v6) return (((0xffffn << 32n) | ip.value) & c.mask) === c.network;
    return false;
  }
  return (ip.value & c.mask) === c.network;
}

const ALL4 = (1n << 32n) - 1n;
const ALL6 = (1n << 128n) - 1n;
const MAPPED = 0xffffn << 32n;

/** Whether `x` lies in one of the sorted, disjoint ranges. */
function inRanges(r: ReadonlyArray<readonly [bigint, bigint]>, x: bigint): boolean {
  let lo = 0;
  let hi = r.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = r[mid]!;
    if (x < a) hi = mid - 1;
    else if (x > b) lo = mid + 1;
    else return true;
  }
  return false;
}

function merged(r: Array<[bigint, bigint]>): Array<[bigint, bigint]> {
  r.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [a, b] of r) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1n) {
      if (b > last[1]) last[1] = b;
    } else out.push([a, b]);
  }
  return out;
}

/**
 * A test of an address against many blocks at once (what `cidrMatch` answers for each, with its
 * blocks literal): the blocks as sorted ranges, searched by halves. Unreadable blocks are left out,
 * as cidrMatch leaves them.
 */
export function cidrSet(blocks: readonly string[]): (ip: IpAddress) => boolean {
  const v4: Array<[bigint, bigint]> = [];
  const v6: Array<[bigint, bigint]> = [];
  for (const b of blocks) {
    const c = parseCidrUncached(b);
    if (!c) continue;
    if (c.v6) v6.push([c.network, c.network | (~c.mask & ALL6)]);
    else v4.push([c.network, c.network | (~c.mask & ALL4)]);
  }
  const r4 = merged(v4);
  const r6 = merged(v6);
  // an IPv4 address also matches IPv4-mapped IPv6 blocks (see cidrContains)
  return (ip) => (ip.v6 ? inRanges(r6, ip.value) : inRanges(r4, ip.value) || (r6.length > 0 && inRanges(r6, MAPPED | ip.value)));
}

/** The fewest CIDR blocks that cover the addresses from `from` to `to` (both in), or null when they are not addresses of one kind in order. */
export function rangeToCidrs(from: string, to: string): string[] | null {
  const a = parseIp(from);
  const b = parseIp(to);
  if (!a || !b || a.v6 !== b.v6 || a.value > b.value) return null;
  const bits = a.v6 ? 128 : 32;
  const out: string[] = [];
  let x = a.value;
  while (x <= b.value) {
    // the largest block that starts at x and ends within the range
    let size = 0;
    while (size < bits && (x & ((1n << BigInt(size + 1)) - 1n)) === 0n && x + (1n << BigInt(size + 1)) - 1n <= b.value) size++;
    out.push(`${formatIp(x, a.v6)}/${bits - size}`);
    x += 1n << BigInt(size);
  }
  return out;
}

function formatIp(v: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
  return groups.join(':');
}
