import { defaultParseTimestamp } from '../../engine/index.js';
import { badRequest } from './errors.js';

/**
 * Elasticsearch's date math, in UTC: an anchor (`now`, or a date followed by `||`), then any of
 * `+N<unit>`, `-N<unit>` and `/<unit>` (rounding). Units y M w d h H m s. Rounding goes down, or up
 * to the unit's last millisecond when `roundUp` (as `lte`, `gt` and range ends are read).
 */
export function parseDate(value: unknown, now: number, roundUp = false): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') throw badRequest('parse_exception', `failed to parse date field [${String(value)}]`);
  let rest: string;
  let t: number;
  if (value.startsWith('now')) {
    t = now;
    rest = value.slice(3);
  } else {
    const at = value.indexOf('||');
    const anchor = at < 0 ? value : value.slice(0, at);
    t = /^-?\d+$/.test(anchor) ? Number(anchor) : defaultParseTimestamp(anchor);
    if (Number.isNaN(t)) throw badRequest('parse_exception', `failed to parse date field [${value}] with format [strict_date_optional_time||epoch_millis]`);
    if (at < 0) return t;
    rest = value.slice(at + 2);
  }
  let i = 0;
  while (i < rest.length) {
    const op = rest[i]!;
    if (op === '/') {
      const unit = rest[i + 1];
      if (!unit || !UNITS.has(unit)) throw badRequest('parse_exception', `rounding \`/\` must be followed by a valid unit in [${value}]`);
      t = round(t, unit, roundUp);
      i += 2;
      continue;
    }
    if (op !== '+' && op !== '-') throw badRequest('parse_exception', `operator not supported for date math [${value}]`);
    const m = /^(\d*)([yMwdhHms])/.exec(rest.slice(i + 1));
    if (!m) throw badRequest('parse_exception', `truncated date math [${value}]`);
    const n = (m[1] === '' ? 1 : Number(m[1])) * (op === '-' ? -1 : 1);
    t = add(t, m[2]!, n);
    i += 1 + m[0].length;
  }
  return t;
}

const UNITS = new Set(['y', 'M', 'w', 'd', 'h', 'H', 'm', 's']);
const FIXED: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, H: 3_600_000, m: 60_000, s: 1000 };

function add(t: number, unit: string, n: number): number {
  if (unit === 'y' || unit === 'M') {
    const d = new Date(t);
    if (unit === 'y') d.setUTCFullYear(d.getUTCFullYear() + n);
    else d.setUTCMonth(d.getUTCMonth() + n);
    return d.getTime();
  }
  return t + n * FIXED[unit]!;
}

/** The start of the unit `t` lies in (or its last millisecond with `up`). */
export function round(t: number, unit: string, up: boolean): number {
  const d = new Date(t);
  let start: number;
  switch (unit) {
    case 'y':
      start = Date.UTC(d.getUTCFullYear(), 0, 1);
      break;
    case 'M':
      start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      break;
    case 'w': {
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      start = day - ((d.getUTCDay() + 6) % 7) * 86_400_000; // weeks start on Monday
      break;
    }
    default:
      start = Math.floor(t / FIXED[unit]!) * FIXED[unit]!;
  }
  return up ? add(start, unit, 1) - 1 : start;
}
