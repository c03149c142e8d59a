import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { eqlRule } from '../support/rules.js';
import { repoRoot } from '../support/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-spill-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const main = join(repoRoot, 'dist/src/cli/main.js');
const rulesDir = join(dir, 'rules');
mkdirSync(rulesDir);
// a rule every event matches: an alert per event
writeFileSync(join(rulesDir, 'every.ndjson'), `${eqlRule('every-event', 'any where true')}\n`);

/** Every file and folder under `d`. */
const under = (d: string): string[] => readdirSync(d, { recursive: true }).map(String);

/** `vigil gen --events n | vigil hunt …` with TMPDIR `tmp`; the hunt's process and its end. */
function genIntoHunt(n: number, tmp: string, out: string): { hunt: ReturnType<typeof spawn>; done: Promise<number | null>; stderr: () => string } {
  const env = { ...process.env, TMPDIR: tmp };
  const gen = spawn(process.execPath, [main, 'gen', '--events', String(n), '--seed', '5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const hunt = spawn(process.execPath, [main, 'hunt', '--rules', rulesDir, '--events', '-', '--format', 'ndjson', '-o', out, '--no-progress'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  gen.stdout.pipe(hunt.stdin!);
  // a hunt that ends first leaves the generator writing to a closed pipe
  hunt.stdin!.on('error', () => {});
  let err = '';
  hunt.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  // the exit status as a shell reports it: 128 + the signal's number when a signal ended it
  const done = new Promise<number | null>((resolve) => hunt.on('close', (code, signal) => {
    gen.kill();
    resolve(code ?? (signal ? 128 + constants.signals[signal] : null));
  }));
  return { hunt, done, stderr: () => err };
}

test('vigil hunt writes alerts past what it holds to its own temporary folder, and leaves none behind: at its end, or on Ctrl-C', async () => {
  // 80,000 alerts: more than the 50,000 a hunt holds: a file written, merged back with the alerts held
  const whole = mkdtempSync(join(dir, 'tmp-'));
  const out = join(dir, 'all.ndjson');
  const run = genIntoHunt(80_000, whole, out);
  assert.equal(await run.done, 0, run.stderr());
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 80_000);
  const times = lines.map((l) => (JSON.parse(l) as Record<string, string>)['kibana.alert.original_time']!);
  assert.ok(times.every((t, i) => i === 0 || times[i - 1]! <= t), 'alerts out of time order');
  assert.deepEqual(under(whole), []);

  // interrupted once it has written a file: exit 130, and the folder gone
  const cut = mkdtempSync(join(dir, 'tmp-'));
  const run2 = genIntoHunt(5_000_000, cut, join(dir, 'cut.ndjson'));
  const deadline = Date.now() + 60_000;
  while (!under(cut).some((f) => f.endsWith('.txt'))) {
    assert.ok(Date.now() < deadline, 'no file written in a minute');
    await new Promise((r) => setTimeout(r, 50));
  }
  run2.hunt.kill('SIGINT');
  assert.equal(await run2.done, 130, run2.stderr());
  assert.deepEqual(under(cut), []);
});

test('vigil hunt needs no room on disk until it has more alerts than it holds, and then says where it could not write', async () => {
  // a TMPDIR below a plain file: nothing can be made there, even by root
  const blocked = join(dir, 'a-file');
  writeFileSync(blocked, '');
  const tmp = join(blocked, 'tmp');
  const few = genIntoHunt(2_000, tmp, join(dir, 'few.ndjson'));
  assert.equal(await few.done, 0, few.stderr());
  assert.equal(readFileSync(join(dir, 'few.ndjson'), 'utf8').trimEnd().split('\n').length, 2_000);
  const many = genIntoHunt(60_000, tmp, join(dir, 'many.ndjson'));
  assert.equal(await many.done, 2);
  assert.match(many.stderr(), /^vigil: cannot write the alerts past the 50,000 held in memory to .*a-file\/tmp\/vigil-hunt-\S+ \(ENOTDIR[^)]*\); set TMPDIR to a folder with room\n$/m);
  assert.doesNotMatch(many.stderr(), /at .*\.js:\d+/, 'a stack trace');
});

test('vigil hunt removes the spill folders that hunts killed outright left behind, and only those', async () => {
  const tmp = mkdtempSync(join(dir, 'tmp-'));
  // a process that has ended: its pid names the folder a SIGKILL would have left
  const gone = spawnSync(process.execPath, ['-e', '']).pid!;
  const left = `vigil-hunt-${gone}-0123456789ab`;
  mkdirSync(join(tmp, left, 'vigil-hunt-x1y2z3'), { recursive: true });
  writeFileSync(join(tmp, left, 'vigil-hunt-x1y2z3', '0.txt'), 'alerts\n');
  // a hunt still running (this test's own process stands in), and folders that are not a hunt's
  const running = `vigil-hunt-${process.pid}-ba9876543210`;
  mkdirSync(join(tmp, running));
  mkdirSync(join(tmp, 'vigil-hunt-notes'));
  mkdirSync(join(tmp, `vigil-hunt-${gone}-short`));
  const run = genIntoHunt(100, tmp, join(dir, 'after-kill.ndjson'));
  assert.equal(await run.done, 0, run.stderr());
  // said once, before the hunt's own summary
  assert.ok(run.stderr().startsWith(`vigil hunt: removed ${join(tmp, left)}, left by a hunt that was killed\nhunt: 100 events`), run.stderr());
  assert.equal(run.stderr().split('left by a hunt').length, 2);
  assert.deepEqual(readdirSync(tmp).sort(), [`vigil-hunt-${gone}-short`, 'vigil-hunt-notes', running].sort());
});
