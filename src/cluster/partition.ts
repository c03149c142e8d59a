/**
 * Where an event goes in a cluster, and which node holds each partition. Pure: every node computes
 * the same answers from the same inputs.
 */

/** FNV-1a, 32 bits, of a string's UTF-16 code units. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A 32-bit mix of two hashes (murmur3's finaliser over their combination), for rendezvous scores. */
function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

/**
 * The key an event is partitioned by: its host (`host.id`, else `host.name`), else its agent
 * (`agent.id`), else its text. All events of one host go to one partition, so the sequences and
 * samples that join on the host (most of Elastic's) complete on one node, whichever node took them.
 */
export function eventKey(source: Readonly<Record<string, unknown>> | null, json: string): string {
  const host = source?.host as Record<string, unknown> | undefined;
  const agent = source?.agent as Record<string, unknown> | undefined;
  const k = str(host?.id) ?? str(source?.['host.id']) ?? str(host?.name) ?? str(source?.['host.name']) ?? str(agent?.id) ?? str(source?.['agent.id']);
  return k === null ? `text:${json}` : `host:${k}`;
}

export function partitionOf(key: string, partitions: number): number {
  return fnv1a(key) % partitions;
}

/**
 * Rendezvous (highest random weight) hashing: each partition goes to the live node with the highest
 * score for it. When a node joins or leaves, only the partitions it wins or held move.
 */
export function ownerOf(partition: number, nodes: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = -1;
  for (const n of nodes) {
    const score = mix(fnv1a(n), partition + 1);
    if (score > bestScore || (score === bestScore && best !== null && n < best)) {
      best = n;
      bestScore = score;
    }
  }
  return best;
}

/** The partitions `node` should hold among `nodes`. */
export function partitionsFor(node: string, nodes: readonly string[], partitions: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) if (ownerOf(p, nodes) === node) out.push(p);
  return out;
}
