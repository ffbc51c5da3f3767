#!/usr/bin/env node
// Runs one BullMQ case (a JSON file, format below) against real BullMQ on a real Redis, and prints
// what happened as JSON lines on stdout:
//   {"t":…,"src":"queue","event":"waiting","id":"3","name":"b",…}   one line per event, in time order
//   {"summary":{…}}                                                  per job: attempts, gaps, final state
//   {"check":"order","ok":true,…}                                    one line per expectation
// Exits 1 if an expectation does not hold (or the case times out), 2 on bad usage.
//
//   node scripts/bullmq/run-case.mjs --port PORT --modules DIR CASE.json
//     PORT   the Redis server's port (on 127.0.0.1)
//     DIR    the directory whose node_modules holds bullmq (.tools/bullmq-node)
//
// Times ("t", in ms) are relative to the moment just before the first job is added (t0). Events of
// "src":"queue" are QueueEvents (the queue's Redis event stream, read from its first entry): their
// time is the stream entry id's, i.e. Redis's clock when the Lua script ran. Events of
// "src":"worker" (or "worker1"…) are the Worker's local events, timed with Date.now() when emitted.
// Both clocks are this machine's. "attemptsMade" is the job's count when the event was seen; an
// "active" line also has "attempt" = attemptsMade + 1 (the attempt that starts).
//
// Case file:
// {
//   "description": "…",
//   "queue": "name"                        (default: the file's base name; a run suffix is added)
//   "pauseQueueUntilMs": 300,              queue.pause() before the adds, queue.resume() at t0+300
//   "startWorkersAtMs": 300,               workers start (run()) at t0+300 instead of before the adds
//   "workers": [{"concurrency": 1, "limiter": {"max": 2, "duration": 500}, "opts": {…any WorkerOptions}}],
//   "jobs": [{
//     "name": "a",                         job name (also how expectations refer to the job)
//     "atMs": 0,                           when to add it (ms after t0; adds are sequential, in file order)
//     "data": {…},
//     "opts": {"delay": 100, "priority": 3, "lifo": true, "attempts": 3, "jobId": "x",
//              "backoff": {"type": "exponential", "delay": 200, "jitter": 0.5}, …any JobsOptions},
//     "process": {"ms": 20, "fail": [1, 2], "failUntil": 2, "unrecoverable": false, "result": …}
//                                          the processor: takes ms, then throws on the listed attempt
//                                          numbers (1-based) or on attempts 1..failUntil
//     "children": [{"name": "c1", "opts": {…}, "process": {…}, "children": […]}]
//                                          a flow: the job is added by FlowProducer.add as the
//                                          parent of these (in the same queue)
//   }],
//   "scheduler": {"id": "s", "repeat": {"pattern": "*/1 * * * * *", "limit": 3}, "name": "tick",
//                 "opts": {…}, "process": {…}}   queue.upsertJobScheduler at t0; its jobs are named
//                                          "tick#1", "tick#2"… in the order their ids first appear
//   "settleMs": 150,                       after every job has finished, how long to keep listening
//   "timeoutMs": 10000,
//   "expect": {
//     "order": ["c", "a", …],              names of the jobs in the order of the workers' "active" events
//     "queueEvents": {"b": ["added", "waiting", "active", …]}   a job's QueueEvents, in order
//     "gapsMs": {"b": [[180, 320], [380, 520]]}  per retry, [min, max] of (this "active" − the
//                                          previous attempt's worker "failed")
//     "firstActiveMs": [[0, 60], [0, 60], [480, 620], …]  [min, max] of each job's first "active",
//                                          sorted, relative to the earliest one
//     "final": {"b": "completed"}          a job's final state (completed | failed)
//     "failedReason": {"b": "…"}           the failedReason of a job's QueueEvents 'failed'
//     "counts": {"queue:drained": 1}       how many events of a source ("queue", "worker"…) and name
//     "ids": {"a": "1"}                    the id a job got
//     "addErrors": {"bad": "Priority should be between 0 and 2097151"}   queue.add() threw this
//     "errors": ["Missing lock"]           worker/queue 'error' events are allowed if each message
//                                          contains one of these (otherwise any error fails the case)
//   }
// }
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

function usage(msg) {
  process.stderr.write(`run-case.mjs: ${msg}\nusage: node run-case.mjs --port PORT --modules DIR CASE.json\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let port;
let modules;
let casePath;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--port') port = Number(argv[++i]);
  else if (argv[i] === '--modules') modules = argv[++i];
  else if (!casePath) casePath = argv[i];
  else usage(`unexpected argument ${argv[i]}`);
}
if (!Number.isInteger(port) || !modules || !casePath) usage('missing arguments');

const require = createRequire(join(resolve(modules), 'package.json'));
const { Queue, Worker, QueueEvents, FlowProducer, UnrecoverableError } = require('bullmq');
const bullmqVersion = require('bullmq/package.json').version;

const spec = JSON.parse(readFileSync(casePath, 'utf8'));
const queueName = `${spec.queue ?? basename(casePath, '.json')}-${process.pid}-${Date.now()}`;
const connection = { host: '127.0.0.1', port };
const jobsSpec = spec.jobs ?? [];
const workersSpec = spec.workers ?? [{}];
const expect = spec.expect ?? {};
// Every job of the case, flows' children included, by index (a job's data says its index).
const allSpecs = [];
(function index(list) {
  for (const j of list) {
    j.__index = allSpecs.length;
    allSpecs.push(j);
    index(j.children ?? []);
  }
})(jobsSpec);

const sleep = ms => new Promise(r => setTimeout(r, Math.max(0, ms)));
let t0 = null; // set just before the first add
const rel = ms => (t0 === null ? null : ms - t0);

const events = []; // {t, seq, src, event, ...}
let seq = 0;
const nameOf = new Map(); // job id -> job name
const finished = new Map(); // job id -> 'completed' | 'failed' (from QueueEvents)
const errors = [];
const addErrors = {}; // job name -> message queue.add() threw

// A job scheduler's jobs, named in the order their ids appear.
let scheduled = 0;
function record(src, event, ms, fields) {
  if (spec.scheduler && typeof fields.id === 'string' && fields.id.startsWith('repeat:') && !nameOf.has(fields.id)) {
    nameOf.set(fields.id, `${spec.scheduler.name}#${++scheduled}`);
  }
  // "t" is set once t0 is known (an event may come before the first add: a worker's 'drained').
  const e = { t: null, src, event, ...fields };
  if (e.id !== undefined && nameOf.has(e.id)) e.name = nameOf.get(e.id);
  Object.defineProperty(e, 'seq', { value: seq++, enumerable: false });
  Object.defineProperty(e, 'ms', { value: ms, enumerable: false });
  events.push(e);
}

// Everything a job, an error or a plain value says that is worth a line.
function describe(arg) {
  if (arg && typeof arg === 'object' && 'attemptsMade' in arg && 'id' in arg) {
    return { id: arg.id, attemptsMade: arg.attemptsMade, attemptsStarted: arg.attemptsStarted };
  }
  if (arg instanceof Error) return { error: arg.message };
  return arg;
}

// QueueEvents from the stream's first entry: nothing is missed however late it connects.
const queueEvents = new QueueEvents(queueName, { connection, lastEventId: '0-0' });
const qeEmit = queueEvents.emit.bind(queueEvents);
queueEvents.emit = (event, ...args) => {
  // Each job event is emitted twice, also as `${event}:${jobId}`; keep the plain one.
  if (typeof event === 'string' && !event.includes(':') && event !== 'error') {
    const streamId = args[args.length - 1];
    const ms = Number(String(streamId).split('-')[0]);
    const { jobId, ...rest } = event === 'drained' ? {} : args[0] ?? {};
    const fields = jobId === undefined ? { ...rest } : { id: jobId, ...rest };
    if ('attemptsMade' in fields) fields.attemptsMade = Number(fields.attemptsMade);
    // A 'delayed' event's "delay" is the epoch ms the job is due, not a duration.
    if (event === 'delayed' && Number.isFinite(fields.delay)) fields.dueT = rel(fields.delay);
    record('queue', event, ms, fields);
    if (event === 'completed') finished.set(jobId, 'completed');
    if (event === 'failed') finished.set(jobId, 'failed');
  }
  if (event === 'error') errors.push(`queue events: ${args[0]?.message ?? args[0]}`);
  return qeEmit(event, ...args);
};
queueEvents.on('error', () => {});

const queue = new Queue(queueName, { connection });
queue.on('error', err => errors.push(`queue: ${err.message}`));
const flowProducer = new FlowProducer({ connection });
flowProducer.on('error', err => errors.push(`flow producer: ${err.message}`));

// A case job with children as a FlowProducer node (its children in the same queue).
function flowNode(j) {
  return {
    name: j.name,
    queueName,
    data: { ...(j.data ?? {}), __case_index: j.__index },
    opts: j.opts ?? {},
    children: (j.children ?? []).map(flowNode),
  };
}
// Every job of an added flow, named.
function nameFlow(node, added) {
  const name = node.job.name;
  if (!nameOf.has(node.job.id)) nameOf.set(node.job.id, name);
  added.push(node.job.id);
  for (const c of node.children ?? []) nameFlow(c, added);
}

async function processor(job) {
  const p = (job.data.__scheduler ? spec.scheduler : allSpecs[job.data.__case_index])?.process ?? {};
  const attempt = job.attemptsMade + 1;
  if (p.ms) await sleep(p.ms);
  const fails = (p.fail ?? []).includes(attempt) || attempt <= (p.failUntil ?? 0);
  if (fails) {
    const msg = `case failure on attempt ${attempt}`;
    throw p.unrecoverable ? new UnrecoverableError(msg) : new Error(msg);
  }
  return p.result ?? { attempt };
}

const startLater = spec.startWorkersAtMs !== undefined;
const workers = workersSpec.map((w, i) => {
  const src = i === 0 ? 'worker' : `worker${i}`;
  const opts = { connection, autorun: !startLater, ...(w.opts ?? {}) };
  if (w.concurrency !== undefined) opts.concurrency = w.concurrency;
  if (w.limiter !== undefined) opts.limiter = w.limiter;
  const worker = new Worker(queueName, processor, opts);
  const emit = worker.emit.bind(worker);
  worker.emit = (event, ...args) => {
    const now = Date.now();
    if (event === 'error') {
      errors.push(`${src}: ${args[0]?.message ?? args[0]}`);
    } else if (!['ready', 'closing', 'closed'].includes(event)) {
      const fields = {};
      const [first, second, third] = args;
      if (event === 'stalled') Object.assign(fields, { id: first, prev: second });
      else if (first !== undefined) Object.assign(fields, describe(first));
      if (event === 'active') {
        fields.attempt = fields.attemptsMade + 1;
        fields.prev = second;
      }
      if (event === 'failed' && second !== undefined) fields.error = describe(second).error;
      if (event === 'completed') fields.prev = third;
      if (event === 'failed') fields.prev = third;
      record(src, event, now, fields);
    }
    return emit(event, ...args);
  };
  worker.on('error', () => {});
  return worker;
});

let exitCode = 0;
try {
  await queueEvents.waitUntilReady();
  await queue.waitUntilReady();
  if (!startLater) await Promise.all(workers.map(w => w.waitUntilReady()));

  const timers = [];
  if (spec.scheduler?.repeat?.pattern) {
    // A cron pattern's jobs are due on whole seconds: start 200 ms past one, so that the first
    // is due 800 ms after it is added (delayed, as the case says) however slow this machine is
    // at that moment. Started a few ms before a whole second, a loaded machine added the first
    // job after its time, and it went straight to waiting.
    await sleep((1200 - (Date.now() % 1000)) % 1000);
  }
  t0 = Date.now();
  if (spec.pauseQueueUntilMs !== undefined) {
    await queue.pause();
    timers.push(sleep(spec.pauseQueueUntilMs - rel(Date.now())).then(() => queue.resume()));
  }
  if (startLater) {
    timers.push(
      sleep(spec.startWorkersAtMs - rel(Date.now())).then(() => {
        for (const w of workers) w.run().catch(err => errors.push(`run: ${err.message}`));
      }),
    );
  }
  const added = []; // ids, in file order
  if (spec.scheduler) {
    const sc = spec.scheduler;
    await queue.upsertJobScheduler(sc.id, sc.repeat, { name: sc.name, data: { __scheduler: true }, opts: sc.opts ?? {} });
  }
  for (const [index, j] of jobsSpec.entries()) {
    if (j.atMs) await sleep(j.atMs - rel(Date.now()));
    let job;
    try {
      if (j.children) {
        nameFlow(await flowProducer.add(flowNode(j)), added);
        continue;
      }
      job = await queue.add(j.name, { ...(j.data ?? {}), __case_index: j.__index }, j.opts ?? {});
    } catch (err) {
      record('client', 'add-error', Date.now(), { name: j.name, error: err.message });
      addErrors[j.name] = err.message;
      added.push(undefined);
      continue;
    }
    // An add that returns an existing job (same custom jobId: 'duplicated') keeps the first name.
    if (!nameOf.has(job.id)) nameOf.set(job.id, j.name);
    added.push(job.id);
  }
  await Promise.all(timers);

  // Until every added job has finished (QueueEvents completed, or failed for good).
  const deadline = t0 + (spec.timeoutMs ?? 10000);
  const ids = [...new Set(added.filter(id => id !== undefined))];
  // A scheduler: until its `limit` jobs have finished.
  const schedulerDone = () =>
    !spec.scheduler || [...finished.keys()].filter(id => id.startsWith('repeat:')).length >= spec.scheduler.repeat.limit;
  while ((ids.some(id => !finished.has(id)) || !schedulerDone()) && Date.now() < deadline) await sleep(10);
  if (ids.some(id => !finished.has(id))) {
    errors.push(`timed out: jobs not finished: ${ids.filter(id => !finished.has(id)).join(', ')}`);
  }
  await sleep(spec.settleMs ?? 150);
} catch (err) {
  errors.push(`case: ${err.stack ?? err.message}`);
} finally {
  await Promise.all(workers.map(w => w.close(true).catch(() => {})));
  await queueEvents.close().catch(() => {});
  await flowProducer.close().catch(() => {});
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close().catch(() => {});
}

// The names of events recorded before an id's name was known (QueueEvents can come first).
if (t0 === null) t0 = events.length > 0 ? Math.min(...events.map(e => e.ms)) : 0;
for (const e of events) {
  if (e.id !== undefined && !e.name && nameOf.has(e.id)) e.name = nameOf.get(e.id);
  e.t = e.ms - t0;
}
events.sort((a, b) => a.t - b.t || a.seq - b.seq);
for (const e of events) process.stdout.write(`${JSON.stringify(e)}\n`);

// Per job: each attempt's start ("active"), the gap since the previous failure, the final state.
const jobs = {};
for (const [id, name] of nameOf) jobs[name] = { id, active: [], failed: [], gapsMs: [], final: finished.get(id) ?? null };
const workerSrc = e => e.src.startsWith('worker');
for (const e of events) {
  if (!workerSrc(e) || !e.name) continue;
  const j = jobs[e.name];
  if (e.event === 'active') {
    if (j.failed.length > 0 && j.failed.length === j.active.length) j.gapsMs.push(e.t - j.failed.at(-1));
    j.active.push(e.t);
  }
  if (e.event === 'failed') j.failed.push(e.t);
}
const order = events.filter(e => workerSrc(e) && e.event === 'active').map(e => e.name);
const firsts = Object.values(jobs).map(j => j.active[0]).filter(t => t !== undefined).sort((a, b) => a - b);
const firstActiveMs = firsts.map(t => t - firsts[0]);
process.stdout.write(
  `${JSON.stringify({ summary: { case: basename(casePath), bullmq: bullmqVersion, queue: queueName, order, firstActiveMs, jobs, errors } })}\n`,
);

function check(name, ok, detail) {
  process.stdout.write(`${JSON.stringify({ check: name, ok, ...detail })}\n`);
  if (!ok) exitCode = 1;
}
const within = (v, [lo, hi]) => typeof v === 'number' && v >= lo && v <= hi;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const allowed = expect.errors ?? [];
const unexpected = errors.filter(e => !allowed.some(a => e.includes(a)));
if (unexpected.length > 0) check('no errors', false, { errors: unexpected });
if (allowed.length > 0) check('errors', unexpected.length === 0, { want: allowed, got: errors });
for (const [name, want] of Object.entries(expect.addErrors ?? {})) {
  check(`addError ${name}`, addErrors[name] === want, { want, got: addErrors[name] ?? null });
}
for (const [key, want] of Object.entries(expect.counts ?? {})) {
  const [src, event] = key.split(':');
  const got = events.filter(e => e.src === src && e.event === event).length;
  check(`count ${key}`, got === want, { want, got });
}
for (const [name, want] of Object.entries(expect.ids ?? {})) {
  check(`id ${name}`, jobs[name]?.id === want, { want, got: jobs[name]?.id ?? null });
}
for (const [name, want] of Object.entries(expect.failedReason ?? {})) {
  const id = jobs[name]?.id;
  const got = events.find(e => e.src === 'queue' && e.event === 'failed' && e.id === id)?.failedReason ?? null;
  check(`failedReason ${name}`, got === want, { want, got });
}
if (expect.order) check('order', same(order, expect.order), { want: expect.order, got: order });
for (const [name, want] of Object.entries(expect.queueEvents ?? {})) {
  const id = jobs[name]?.id;
  const got = events.filter(e => e.src === 'queue' && e.id === id).map(e => e.event);
  check(`queueEvents ${name}`, same(got, want), { want, got });
}
for (const [name, want] of Object.entries(expect.gapsMs ?? {})) {
  const got = jobs[name]?.gapsMs ?? [];
  check(`gapsMs ${name}`, got.length === want.length && want.every((r, i) => within(got[i], r)), { want, got });
}
if (expect.firstActiveMs) {
  const want = expect.firstActiveMs;
  const ok = firstActiveMs.length === want.length && want.every((r, i) => within(firstActiveMs[i], r));
  check('firstActiveMs', ok, { want, got: firstActiveMs });
}
for (const [name, want] of Object.entries(expect.final ?? {})) {
  const got = jobs[name]?.final;
  check(`final ${name}`, got === want, { want, got });
}
process.exit(exitCode);
