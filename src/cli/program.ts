import { Command } from 'commander';
import { runCheck } from './check.js';
import { runQuery, type QueryOpts } from './query.js';
import { runRulesConvert, runRulesValidate } from './rules.js';
import { runResetPassword } from './reset-password.js';
import { runStoreCheck, runStoreRecover } from './store.js';
import { runServe, type ServeOpts } from './serve.js';
import { runHuntCommand, type HuntOpts } from './hunt.js';
import { runGen } from './gen.js';

export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** The `vigil` command line. Commands live in files of their own; this only wires them. */
export function createProgram(io: Io): Command {
  const program = new Command('vigil')
    .description('Vigil: run Elastic EQL detection rules over ECS events')
    .version('0.1.0');

  program
    .command('check')
    .description('parse and check an EQL (or KQL) query; print its canonical form or the diagnostics')
    .argument('[query]', 'the query text')
    .option('-f, --file <path>', 'read the query from a file')
    .option('--language <name>', 'eql, or kuery (KQL)', 'eql')
    .option('--dialect <name>', 'elasticsearch or endgame (EQL)', 'elasticsearch')
    .option('--strict', 'unknown fields are errors (EQL)')
    .option('--format <format>', 'text or json', 'text')
    .action(async (query: string | undefined, opts: { file?: string; language: string; dialect: string; strict?: boolean; format: string }) => {
      process.exitCode = await runCheck(io, query, opts);
    });

  program
    .command('query')
    .description('run an EQL query over NDJSON events and print the hits, one JSON per line')
    .argument('<query>', 'the EQL query text')
    .argument('[files...]', 'NDJSON files; - or nothing reads standard input')
    .option('--format <format>', 'json or table', 'json')
    .option('--dialect <name>', 'elasticsearch or endgame', 'elasticsearch')
    .option('--timestamp-field <field>', 'field that orders events', '@timestamp')
    .option('--event-category-field <field>', 'field that holds the event category', 'event.category')
    .option('--tiebreaker-field <field>', 'field that orders events with equal timestamps')
    .option('--size <n>', 'print at most n hits')
    .action(async (query: string, files: string[], opts: QueryOpts) => {
      process.exitCode = await runQuery(io, query, files, opts, process.stdin);
    });

  program
    .command('serve')
    .description('run the detection service: Elasticsearch-compatible ingest, the rule scheduler, alerts, API')
    .option('--data <dir>', 'folder of the SQLite store', './data')
    .option('--host <host>', 'address to listen on (0.0.0.0 for other machines)', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '9200')
    .option('--rules <paths...>', 'more rule files or folders (TOML, Markdown, NDJSON)')
    .option('--no-bundled-rules', 'do not load the rules shipped with Vigil')
    .option('--streaming', 'rules new to the store match events as they arrive instead of on their schedule')
    .option('--include-deprecated', 'also load the rules Elastic has deprecated (left out by default: their replacements alert on the same)')
    .option('--output <specs...>', 'alert outputs: stdout, a file path (NDJSON), or an http(s) webhook URL')
    .option('--clock <time>', 'run on a manual clock starting at this ISO time (moved with POST /api/_clock)')
    .option('--retention <duration>', 'drop events older than this (e.g. 30d)')
    .option('--retention-size <bytes>', 'drop the oldest events when the store is larger (e.g. 10gb)')
    .option('--body-limit <bytes>', 'largest request body (default 100mb)')
    .option('--request-timeout <duration>', 'longest a request may take to arrive whole (default 5m)')
    .option('--tick <ms>', 'how often the scheduler looks for due rules', '1000')
    .option('--scan-threads <n>', 'threads scheduled rules scan stored events on (default: one per core but one, 1 to 4; 0: none)')
    .option('--indexing-pressure <bytes>', 'bytes (or a percentage of the heap) of writes in flight before _bulk is answered 429 (default 10%, as Elasticsearch)')
    .option('--search-threads <n>', 'threads searches (_search, _eql/search, ...) run on, beside the server (default 2)')
    .option('--search-timeout <duration>', 'longest one search may run before it is stopped, answered 504 (default 60s)')
    .option('--rule-timeout <duration>', 'CPU time one rule execution may take before it is stopped, recorded failed with its window as a gap (default 5m, as Kibana)')
    .option('--min-rule-interval <duration>', 'shortest interval a rule may run at (default 1m, as Kibana)')
    .option('--max-lookback <duration>', "furthest back a rule's from may reach (default 7d)")
    .option('--max-signals <n>', 'ceiling on max_signals, the alerts one execution writes (default 1000, as Kibana)')
    .option('--max-catch-up <n>', 'catch-up windows one execution runs after downtime; older uncovered time stays a gap (default 100)')
    .option('--max-rules <n>', 'rules held at most, files and imports together; imports past it are refused (default 20,000)')
    .option('--cluster <nats-urls>', 'cluster mode: NATS JetStream servers (comma list, e.g. nats://127.0.0.1:4222) that carry the events; with --state')
    .option('--state <postgres-url>', 'cluster mode: PostgreSQL for leases, checkpoints and alerts (postgres://host/db, ?schema=NAME for a schema of its own)')
    .option('--node-name <name>', 'cluster mode: this node\'s name, unique in the cluster (default: host name and process id)')
    .option('--partitions <n>', 'cluster mode: partitions of the event log, fixed when the cluster is made (default 64)')
    .option('--replicas <n>', 'cluster mode: JetStream replicas of the event stream when this node makes it (default 1; 3 on a 3-server NATS cluster)')
    .option('--replay <duration>', 'cluster mode: how far before its checkpoint a node that takes a partition over reads it again, to rebuild sequences (default 1h)')
    .option('--lease <duration>', 'cluster mode: how long a partition\'s lease lasts unless renewed; a node silent that long is replaced (default 10s)')
    .option('--outbox-claim <duration>', 'cluster mode: how long a node\'s claim on alerts it sends to the outputs lasts; a node that dies holding one leaves its alerts to another node after it (default 2m)')
    .option('--insecure-no-auth', 'no authentication (loopback addresses only): anyone who reaches the port can do anything')
    .option('--tls', "serve HTTPS (the data folder's self-signed certificate, made on first start, unless --tls-cert); the default beyond loopback")
    .option('--no-tls', 'serve plain HTTP even beyond loopback')
    .option('--tls-cert <file>', 'the certificate (PEM) to serve HTTPS with')
    .option('--tls-key <file>', 'its private key (PEM)')
    .option('--allowed-hosts <names...>', "more names the Host header may carry (loopback names, this machine's name and the listening address always may; * for any)")
    .action(async (opts: ServeOpts) => {
      process.exitCode = await runServe(io, opts);
    });

  const store = program.command('store').description("check or recover a data folder's store (the server must be stopped)");
  store
    .command('check')
    .description('every integrity check in full: the WAL, the database file, integrity_check, acknowledged writes (exit 1 when damaged)')
    .option('--data <dir>', 'the data folder', './data')
    .action((opts: { data: string }) => {
      process.exitCode = runStoreCheck(io, opts);
    });
  store
    .command('recover')
    .description('accept the loss after damage: set a damaged WAL aside, keep what the database holds, count acknowledged writes from it')
    .option('--data <dir>', 'the data folder', './data')
    .action((opts: { data: string }) => {
      process.exitCode = runStoreRecover(io, opts);
    });

  program
    .command('reset-password')
    .description("give a user of a data folder a new password (the elastic user by default) and print it; a running server takes it within a second")
    .option('--data <dir>', 'the data folder', './data')
    .option('-u, --username <name>', 'the user', 'elastic')
    .action(async (opts: { data: string; username: string }) => {
      process.exitCode = await runResetPassword(io, opts);
    });

  program
    .command('hunt')
    .description('run rules over event files now (NDJSON, NDJSON.gz, folders, stdin) and report every match')
    .option('--rules <paths...>', 'rule files or folders (default: the bundled rules)')
    .option('--events <paths...>', 'event files or folders; - or nothing reads standard input')
    .option('--index <name>', 'the index the events belong to (then rule index patterns apply)')
    .option('--indicators <paths...>', 'files of threat-intel indicator documents (NDJSON) for indicator match rules')
    .option('--exceptions <paths...>', "exception lists (Kibana's export NDJSON): their items apply to the rules whose exceptions_list names their list")
    .option('--value-list <specs...>', 'value lists for exception entries of type list, as id:type:file (type keyword, ip or ip_range; a value per line)')
    .option('--include-deprecated', 'also run the rules Elastic has deprecated (skipped by default)')
    .option('--format <format>', 'table (default on a terminal), ndjson, json, csv')
    .option('-o, --output <file>', 'write results to a file')
    .option('--max-alerts <n>', 'stop reporting after n matches')
    .option('--from <time>', 'hunt only events at or after this @timestamp (2026-11-23T10:00:00Z, epoch ms, or a date: from its start)')
    .option('--to <time>', 'hunt only events at or before this @timestamp (a date: to its end)')
    .option('--min-severity <level>', 'run only the rules of this severity or above: low, medium, high, critical')
    .option('--max-open <n>', 'partial sequences (and sample keys) kept per rule; beyond it the oldest are given up, with a warning', '1000000')
    // both forms, so that neither is the default: the bar shows when standard error is a terminal
    .option('--progress', 'show the progress bar even when standard error is not a terminal')
    .option('--no-progress', 'no progress bar')
    .option('--lateness <duration>', 'how far behind the newest event an event may come and still be put in time order for sequences and samples (30s, 5m, 1h; all orders the whole input first; default 0: input in time order)')
    .option('--workers <n>', 'worker threads (default: one per core, for input of 256 MiB or more on 2 cores, 128 MiB on 4; 0 runs on the main thread)')
    .action(async (opts: HuntOpts) => {
      process.exitCode = await runHuntCommand(io, opts, process.stdin, { out: process.stdout.isTTY === true, err: process.stderr.isTTY === true });
    });

  program
    .command('gen')
    .description('generate deterministic ECS endpoint events with planted attacks (NDJSON on stdout)')
    .option('--events <n>', 'how many events', '100000')
    .option('--seed <n>', 'random seed', '1')
    .option('--plant-every <n>', 'one planted attack per n events', '10000')
    .option('--indicators', 'write the threat-intel indicator documents of the generated events instead (for hunt --indicators)')
    .action(async (opts: { events: string; seed: string; plantEvery?: string; indicators?: boolean }) => {
      process.exitCode = await runGen(io, opts, (s) => process.stdout.write(s), () => new Promise((r) => process.stdout.once('drain', () => r())));
    });

  const rules = program.command('rules').description('read, validate and convert detection rules (TOML, Markdown, Kibana NDJSON)');
  rules
    .command('validate')
    .description('load rules and report every problem with file:line:col')
    .argument('<paths...>', 'rule files or folders')
    .option('--format <format>', 'text or json', 'text')
    .action(async (paths: string[], opts: { format: string }) => {
      process.exitCode = await runRulesValidate(io, paths, opts);
    });
  rules
    .command('convert')
    .description('convert rules to Kibana NDJSON or Markdown pages')
    .argument('<paths...>', 'rule files or folders')
    .requiredOption('--to <format>', 'ndjson or markdown')
    .option('-o, --output <path>', 'output file (ndjson) or folder (markdown); ndjson goes to stdout without it')
    .action(async (paths: string[], opts: { to: string; output?: string }) => {
      process.exitCode = await runRulesConvert(io, paths, opts);
    });

  return program;
}
