// Makes sure the tests have what they run against, before `npm test` runs them: Debian's Chromium
// at /usr/bin/chromium (or the binary CHROMIUM_PATH names) for the browser tests, and Debian's
// python3-elasticsearch for the Python client test. When one is missing and this user may install
// packages (root, or sudo without a password), it installs the Debian package; otherwise it stops
// with the one command that does.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const named = process.env.CHROMIUM_PATH;
const path = named ?? '/usr/bin/chromium';
if (named !== undefined && !existsSync(named)) {
  console.error(`ensure-test-deps: CHROMIUM_PATH names ${named}, which does not exist`);
  process.exit(1);
}
const missing = [];
if (!existsSync(path)) missing.push('chromium');
// Debian's python (/usr/bin/python3) is the one its package serves, whatever python3 is first on PATH
if (spawnSync('/usr/bin/python3', ['-c', 'import elasticsearch'], { stdio: 'ignore' }).status !== 0) missing.push('python3-elasticsearch');
if (missing.length === 0) process.exit(0);

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
if (!root && !sudo) {
  console.error(`ensure-test-deps: the tests need Debian's ${missing.join(' and ')}. Install with\n  sudo apt-get install -y ${missing.join(' ')}\n(or name another Chromium binary with CHROMIUM_PATH).`);
  process.exit(1);
}
const run = (args) => {
  const cmd = sudo ? ['sudo', ...args] : args;
  console.error(`ensure-test-deps: ${cmd.join(' ')}`);
  const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    console.error(`ensure-test-deps: ${cmd.join(' ')} failed (exit ${r.status ?? r.signal}); install ${missing.join(' ')} by hand`);
    process.exit(1);
  }
};
console.error(`ensure-test-deps: installing Debian's ${missing.join(' and ')} for the tests`);
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', ...missing]);
if (missing.includes('chromium') && !existsSync(path)) {
  console.error(`ensure-test-deps: the chromium package installed no ${path}`);
  process.exit(1);
}
