/**
 * A deterministic generator of ECS endpoint events for benchmarks and hunt tests: process, network,
 * file, registry, DNS and authentication events from Linux, Windows and macOS hosts, with arrays in
 * `event.category`, `event.type` and `process.args`, parent/child entity ids, and planted attack
 * patterns whose expected alert counts are known (`plantedCounts`). Same seed, same bytes.
 */

export interface GenerateOptions {
  readonly events: number;
  readonly seed: number;
  /** Epoch ms of the first event (default 2026-11-23T00:00:00Z). */
  readonly start?: number;
  /** One planted attack per this many events (default 10,000). */
  readonly plantEvery?: number;
}

/** The planted patterns: which rule (by name) each one triggers. */
export const PLANTED_RULES = {
  mysql: 'Linux Restricted Shell Breakout via the mysql command',
  xpCmdshell: 'Execution via MSSQL xp_cmdshell Stored Procedure',
} as const;

/** mulberry32: small, fast, and the same everywhere. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Os = 'linux' | 'windows' | 'macos';
interface Host {
  readonly name: string;
  readonly id: string;
  readonly os: Os;
  readonly ip: string;
}

// [executable, args, parent executable]: benign activity with the parents it has in real life
const LINUX_PROCS: ReadonlyArray<readonly [string, readonly string[], string]> = [
  ['/usr/sbin/sshd', ['/usr/sbin/sshd', '-D'], '/usr/lib/systemd/systemd'],
  ['/usr/bin/python3', ['/usr/bin/python3', '/opt/app/worker.py', '--queue', 'default'], '/usr/lib/systemd/systemd'],
  ['/usr/sbin/cron', ['/usr/sbin/cron', '-f'], '/usr/lib/systemd/systemd'],
  ['/usr/sbin/nginx', ['/usr/sbin/nginx', '-g', 'daemon off;'], '/usr/lib/systemd/systemd'],
  ['/usr/bin/java', ['/usr/bin/java', '-Xmx2g', '-jar', '/opt/svc/app.jar'], '/usr/lib/systemd/systemd'],
  ['/usr/bin/ls', ['ls', '-la', '/var/log'], '/usr/bin/bash'],
  ['/usr/bin/grep', ['grep', '-r', 'ERROR', '/var/log/app'], '/usr/bin/bash'],
  ['/usr/bin/tar', ['tar', '-czf', '/backup/app.tgz', '/srv/app'], '/usr/bin/bash'],
];
const WINDOWS_PROCS: ReadonlyArray<readonly [string, readonly string[], string]> = [
  ['C:\\Windows\\System32\\svchost.exe', ['C:\\Windows\\System32\\svchost.exe', '-k', 'netsvcs', '-p'], 'C:\\Windows\\System32\\services.exe'],
  ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', ['chrome.exe', '--type=renderer'], 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe'],
  ['C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE', ['OUTLOOK.EXE'], 'C:\\Windows\\explorer.exe'],
  ['C:\\Windows\\System32\\taskhostw.exe', ['taskhostw.exe'], 'C:\\Windows\\System32\\svchost.exe'],
  ['C:\\Program Files\\Microsoft SQL Server\\MSSQL15\\MSSQL\\Binn\\sqlservr.exe', ['sqlservr.exe', '-sMSSQLSERVER'], 'C:\\Windows\\System32\\services.exe'],
  ['C:\\Windows\\System32\\SearchIndexer.exe', ['SearchIndexer.exe', '/Embedding'], 'C:\\Windows\\System32\\services.exe'],
];
const MAC_PROCS: ReadonlyArray<readonly [string, readonly string[], string]> = [
  ['/Applications/Safari.app/Contents/MacOS/Safari', ['Safari'], '/sbin/launchd'],
  ['/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder', ['Finder'], '/sbin/launchd'],
  ['/usr/bin/mdls', ['mdls', '/Users/alice/Documents/report.pdf'], '/bin/zsh'],
];
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'svc-backup', 'svc-web', 'root', 'SYSTEM'];
const DOMAINS = ['updates.example.com', 'cdn.example.net', 'api.example.org', 'mail.example.com', 'time.example.com'];
const base = (p: string): string => p.split(/[\\/]/).pop()!;

export function plantedCounts(options: GenerateOptions): Record<string, number> {
  const every = options.plantEvery ?? 10_000;
  const planted = Math.max(0, Math.floor((options.events - 1) / every)); // plants sit at every multiple of `every` after 0
  // plants alternate: even ones are mysql breakouts, odd ones xp_cmdshell
  return { [PLANTED_RULES.mysql]: Math.ceil(planted / 2), [PLANTED_RULES.xpCmdshell]: Math.floor(planted / 2) };
}

/** Yields one NDJSON line (without newline) per event. */
export function* generateEvents(options: GenerateOptions): Generator<string> {
  const r = rng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const hosts: Host[] = Array.from({ length: 500 }, (_, i) => {
    const os: Os = i % 10 < 5 ? 'linux' : i % 10 < 9 ? 'windows' : 'macos';
    return { name: `${os === 'windows' ? 'WIN' : os === 'macos' ? 'mac' : 'lin'}-${String(i).padStart(4, '0')}`, id: `h${(i * 2654435761) >>> 0}`, os, ip: `10.${(i >> 8) & 255}.${i & 255}.${10 + (i % 200)}` };
  });
  const every = options.plantEvery ?? 10_000;
  let t = options.start ?? Date.parse('2026-11-23T00:00:00Z');
  let plants = 0;
  for (let i = 0; i < options.events; i++) {
    t += 1 + Math.floor(r() * 40);
    const ts = new Date(t).toISOString();
    const h = pick(hosts);
    const user = h.os === 'windows' && r() < 0.2 ? 'SYSTEM' : pick(USERS.slice(0, 8));
    const common = { '@timestamp': ts, agent: { type: 'endpoint', version: '8.17.0' }, host: { name: h.name, id: h.id, ip: [h.ip], os: { type: h.os, family: h.os === 'linux' ? 'debian' : h.os, platform: h.os } }, user: { name: user } };
    const entity = `${h.id}-${i}`;
    if (i > 0 && i % every === 0) {
      const mysql = plants++ % 2 === 0;
      // the attack happens on a host of the right kind
      const target = hosts[(((i / every) * 10 + (mysql ? 0 : 5)) % hosts.length)]!;
      common.host = { name: target.name, id: target.id, ip: [target.ip], os: { type: target.os, family: target.os === 'linux' ? 'debian' : target.os, platform: target.os } };
      if (mysql)
        yield JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec', dataset: 'endpoint.events.process' }, process: { name: 'bash', executable: '/bin/bash', pid: 30000 + (i % 1000), entity_id: entity, args: ['bash'], parent: { name: 'mysql', executable: '/usr/bin/mysql', args: ['mysql', '-u', 'app', '-e', '\\!/bin/bash'], entity_id: `${entity}-p` } } });
      else
        yield JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], dataset: 'endpoint.events.process' }, process: { name: 'cmd.exe', executable: 'C:\\Windows\\System32\\cmd.exe', pid: 40000 + (i % 1000), entity_id: entity, args: ['cmd.exe', '/c', 'whoami /all'], command_line: 'cmd.exe /c whoami /all', parent: { name: 'sqlservr.exe', executable: 'C:\\Program Files\\Microsoft SQL Server\\MSSQL15\\MSSQL\\Binn\\sqlservr.exe', entity_id: `${entity}-p` } } });
      continue;
    }
    const kind = r();
    if (kind < 0.4) {
      const table = h.os === 'linux' ? LINUX_PROCS : h.os === 'windows' ? WINDOWS_PROCS : MAC_PROCS;
      const [exe, args, pexe] = pick(table);
      const start = r() < 0.7;
      yield JSON.stringify({
        ...common,
        event: { kind: 'event', category: ['process'], type: start ? ['start'] : ['end'], action: start ? 'exec' : 'end', dataset: 'endpoint.events.process' },
        process: { name: base(exe), executable: exe, pid: 1000 + Math.floor(r() * 60000), entity_id: entity, args: [...args], args_count: args.length, command_line: args.join(' '), parent: { name: base(pexe), executable: pexe, pid: 1000 + Math.floor(r() * 1000), entity_id: `${h.id}-p${Math.floor(r() * 50)}` } },
      });
    } else if (kind < 0.65) {
      const out = r() < 0.8;
      yield JSON.stringify({
        ...common,
        event: { kind: 'event', category: ['network'], type: out ? ['start', 'connection'] : ['end', 'connection'], action: out ? 'connection_attempted' : 'disconnect_received', dataset: 'endpoint.events.network' },
        source: { ip: h.ip, port: 30000 + Math.floor(r() * 30000) },
        destination: { ip: `192.0.2.${Math.floor(r() * 250)}`, port: pick([443, 443, 443, 80, 53, 5432, 6379]) },
        network: { transport: 'tcp', direction: 'egress' },
        process: { name: h.os === 'windows' ? 'chrome.exe' : 'curl', pid: 2000 + Math.floor(r() * 5000), entity_id: `${h.id}-n${Math.floor(r() * 100)}` },
      });
    } else if (kind < 0.85) {
      const dir = h.os === 'windows' ? `C:\\Users\\${user}\\AppData\\Local\\Temp` : `/tmp/app-${user}`;
      const name = `report-${Math.floor(r() * 10000)}.${pick(['log', 'csv', 'json'])}`;
      yield JSON.stringify({
        ...common,
        event: { kind: 'event', category: ['file'], type: [pick(['creation', 'change', 'deletion'])], dataset: 'endpoint.events.file' },
        file: { name, path: `${dir}${h.os === 'windows' ? '\\' : '/'}${name}`, extension: name.split('.').pop() },
        process: { name: h.os === 'windows' ? 'explorer.exe' : 'python3', pid: 3000 + Math.floor(r() * 5000), entity_id: `${h.id}-f${Math.floor(r() * 100)}` },
      });
    } else if (kind < 0.92) {
      const domain = pick(DOMAINS);
      yield JSON.stringify({ ...common, event: { kind: 'event', category: ['network'], type: ['protocol', 'info'], action: 'lookup_result', dataset: 'endpoint.events.network' }, dns: { question: { name: domain, type: 'A' }, resolved_ip: [`192.0.2.${Math.floor(r() * 250)}`] }, process: { name: h.os === 'windows' ? 'svchost.exe' : 'systemd-resolved', pid: 800 } });
    } else if (kind < 0.96 && h.os === 'windows') {
      yield JSON.stringify({
        ...common,
        event: { kind: 'event', category: ['registry'], type: ['change'], action: 'modification', dataset: 'endpoint.events.registry' },
        registry: { hive: 'HKCU', path: `HKEY_USERS\\S-1-5-21-1000\\Software\\Vendor\\App\\Settings\\Value${Math.floor(r() * 20)}`, value: `Value${Math.floor(r() * 20)}`, data: { strings: [String(Math.floor(r() * 100))] } },
        process: { name: 'explorer.exe', pid: 4000 },
      });
    } else {
      const ok = r() < 0.9;
      yield JSON.stringify({
        ...common,
        event: { kind: 'event', category: ['authentication'], type: ['start'], action: ok ? 'logged-in' : 'logon-failed', outcome: ok ? 'success' : 'failure', dataset: 'system.auth' },
        source: { ip: `10.${Math.floor(r() * 4)}.${Math.floor(r() * 250)}.${Math.floor(r() * 250)}` },
        process: { name: h.os === 'windows' ? 'lsass.exe' : 'sshd', pid: 600 },
      });
    }
  }
}
