// Makes sure the browser tests have a browser, before `npm test` runs them: Debian's Chromium at
// /usr/bin/chromium (or the binary CHROMIUM_PATH names). When it is missing and this user may
// install packages (root, or sudo without a password), it installs Debian's `chromium` package;
// otherwise it stops with the one command that does.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const named = process.env.CHROMIUM_PATH;
const path = named ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);
if (named !== undefined) {
  console.error(`ensure-browser: CHROMIUM_PATH names ${named}, which does not exist`);
  process.exit(1);
}
const root = typeof process.getuid === 'function' && process.getuid() === 0;
const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
if (!root && !sudo) {
  console.error('ensure-browser: the browser tests need Chromium at /usr/bin/chromium. Install it with\n  sudo apt-get install -y chromium\nor name another binary with CHROMIUM_PATH.');
  process.exit(1);
}
const run = (args) => {
  const cmd = sudo ? ['sudo', ...args] : args;
  console.error(`ensure-browser: ${cmd.join(' ')}`);
  const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    console.error(`ensure-browser: ${cmd.join(' ')} failed (exit ${r.status ?? r.signal}); install Chromium by hand or set CHROMIUM_PATH`);
    process.exit(1);
  }
};
console.error('ensure-browser: Chromium is missing; installing Debian\'s package for the browser tests');
run(['apt-get', 'update', '-qq']);
run(['apt-get', 'install', '-y', '-qq', 'chromium']);
if (!existsSync(path)) {
  console.error(`ensure-browser: the chromium package installed no ${path}`);
  process.exit(1);
}
