/**
 * The physical reference, run by bench/run.ts: what this machine does with
 * the same bytes and no protocol at all, and Ferry's Kafka-door produce as a
 * fraction of it (the issue: "within 2 times of the physical reference for
 * 1 MiB batches").
 *
 *   page-cache   fs.writeSync of 1 MiB buffers into a file truncated every
 *                64 MiB (storage.bench.ts's baseline pwrite, through node:fs)
 *   tcp to file  a receiver in this process appends what a loopback TCP
 *                socket delivers to a file, gathering the chunks it reads
 *                (64 KiB each) into one fs.writevSync (pwritev) per 1 MiB;
 *                no framing, no copy, no checks; fed 1 MiB writes by a
 *                child process (bench/reference-load.ts). One write per
 *                chunk measured 370-420 MB/s here against 600-780 for one
 *                per 1 MiB: the per-call cost of a page-cache write, which
 *                Ferry (one pwrite per batch) does not pay either
 *   kafka        Ferry's broker and Kafka listener in this process, a raw
 *                Produce v9 client in a child sending one pre-built batch
 *                of 1 KiB records (<= 1 MiB) over and over, acks=1; the
 *                broker's CPU, RSS and event-loop lag meanwhile (probe.ts),
 *                over all rounds
 *
 * The last two write the same volume into fresh files (Ferry's log is not
 * recycled, so neither is the reference's), each after priming as much page
 * cache (see storage.bench.ts primePageCache), in alternating rounds so the
 * machine's drift hits both; their figures are the sums over the rounds. The
 * sender times both from its first byte to the last acknowledgement.
 * Figures in MB/s (10^6 bytes/s) of bytes on the socket (for Ferry: record
 * batch bytes). Nothing asserts on timing.
 */

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Broker } from '../src/broker/broker.js';
import { startKafkaServer } from '../src/protocol/kafka/server.js';
import type { ReferenceLoadJob, ReferenceLoadResult } from './reference-load.js';
import { runLoadScript } from './load-child.js';
import { REFERENCE_FIGURE } from './peers/names.js';
import { brokerUsageFigures, brokerUsageNames, combineUsage, probeBroker, type BrokerUsage } from './probe.js';
import { measure, primePageCache, type Figure, type Suite, type SuiteContext } from './storage.bench.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const LOAD_SCRIPT = path.join(BENCH_DIR, 'reference-load.ts');

const MiB = 1024 * 1024;
const MB = 1e6;

const WRITE_BYTES = MiB;
/** The reference receiver writes what it has read once it holds this much. */
const GATHER_BYTES = MiB;
/** The page-cache figure's file is truncated at this size, as storage.bench.ts's baseline pwrite's is. */
const PAGE_CACHE_FILE_BYTES_MAX = 64 * MiB;
/** Bytes per side per round, and rounds (alternating reference, Ferry). */
const VOLUME_BYTES = { full: 512 * MiB, quick: 24 * MiB };
const ROUNDS = { full: 2, quick: 1 };
const PRODUCE_INFLIGHT = 8;
const PRODUCE_WARMUP_REQUESTS = { full: 16, quick: 2 };
/** Ferry's target: at least half the reference's bandwidth. */
const RATIO_TARGET = 0.5;

const FIGURES = {
  pageCache: 'reference page-cache write 1MiB',
  /** The peers ratio table divides Ferry's MB/s by it too. */
  tcpToFile: REFERENCE_FIGURE,
  produce: 'kafka produce raw 1MiB batches',
  produceRate: 'kafka produce raw 1MiB batches (records/s)',
  ratio: 'kafka produce raw 1MiB batches / reference',
} as const;

/** Runs bench/reference-load.ts with `job` in a child process; resolves with its result. */
async function runLoad<Mode extends ReferenceLoadJob['mode']>(job: Extract<ReferenceLoadJob, { mode: Mode }>): Promise<Extract<ReferenceLoadResult, { mode: Mode }>> {
  const result = await runLoadScript<ReferenceLoadResult>(LOAD_SCRIPT, job);
  if (result.mode !== job.mode) throw new Error(`reference-load ${job.mode} answered ${result.mode}`);
  return result as Extract<ReferenceLoadResult, { mode: Mode }>;
}

// --- page cache ---------------------------------------------------------------------------

async function pageCacheFigure(context: SuiteContext): Promise<Figure> {
  const dir = context.tempDir('page-cache');
  primePageCache(dir, PAGE_CACHE_FILE_BYTES_MAX);
  const bytes = Buffer.alloc(WRITE_BYTES, 0x5a);
  const fd = fs.openSync(path.join(dir, 'page-cache.dat'), 'w');
  let position = 0;
  try {
    const timing = await measure(
      context,
      FIGURES.pageCache,
      () => {
        for (let written = 0; written < bytes.length; ) written += fs.writeSync(fd, bytes, written, bytes.length - written, position + written);
        position += bytes.length;
      },
      {
        beforeEach: () => {
          if (position + bytes.length <= PAGE_CACHE_FILE_BYTES_MAX) return;
          fs.ftruncateSync(fd, 0);
          position = 0;
        },
      },
    );
    return { name: FIGURES.pageCache, value: WRITE_BYTES / MB / (timing.meanMs / 1000), unit: 'MB/s', better: 'higher', rmePercent: timing.rmePercent, note: `fs.writeSync (pwrite) of 1 MiB at the end of a file truncated every ${PAGE_CACHE_FILE_BYTES_MAX / MiB} MiB, page cache primed` };
  } finally {
    fs.ftruncateSync(fd, 0);
    fs.closeSync(fd);
  }
}

// --- tcp to file ----------------------------------------------------------------------------

/**
 * The program with no protocol: accepts one connection, appends what it reads
 * to `file` at its end (one pwritev per GATHER_BYTES), and acknowledges with
 * one byte once `bytes` are in.
 */
class TcpToFile {
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(): Promise<TcpToFile> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TcpToFile(server, (server.address() as net.AddressInfo).port);
  }

  /** Resolves once a connection has delivered `bytes` into `file` (then truncated: nothing to write back). */
  receive(file: string, bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('connection', (socket) => {
        const fd = fs.openSync(file, 'w');
        let position = 0;
        let gathered: Buffer[] = [];
        let gatheredBytes = 0;
        const finish = (error?: Error): void => {
          socket.off('data', onData);
          fs.ftruncateSync(fd, 0);
          fs.closeSync(fd);
          if (error) reject(error);
          else resolve();
        };
        const onData = (chunk: Buffer): void => {
          gathered.push(chunk);
          gatheredBytes += chunk.length;
          if (gatheredBytes < GATHER_BYTES && position + gatheredBytes < bytes) return;
          const written = fs.writevSync(fd, gathered, position);
          if (written !== gatheredBytes) throw new Error(`pwritev wrote ${written} of ${gatheredBytes} bytes at ${position}`);
          position += gatheredBytes;
          gathered = [];
          gatheredBytes = 0;
          if (position >= bytes) {
            socket.end(Buffer.of(1));
            finish();
          }
        };
        socket.on('data', onData);
        socket.once('error', (error) => finish(error));
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// --- Ferry -------------------------------------------------------------------------------------

interface Served {
  broker: Broker;
  port: number;
  stop(): Promise<void>;
}

async function serveKafka(context: SuiteContext): Promise<Served> {
  const broker = await Broker.open({ dataDir: context.tempDir('kafka'), autoCreateTopics: false });
  const server = await startKafkaServer({ broker, host: '127.0.0.1', port: 0, settings: { advertisedHost: '127.0.0.1' }, logger: pino({ level: 'silent' }) });
  return {
    broker,
    port: server.port,
    stop: async () => {
      await server.close();
      await broker.close();
    },
  };
}

/**
 * Empties a partition's segment files before its broker closes: close()
 * fdatasyncs, and hundreds of MiB of page cache would go to the disk for
 * nothing (as storage.bench.ts's discardLog does).
 */
function truncateSegments(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.log')) fs.truncateSync(path.join(dir, name), 0);
  }
}

interface Side {
  bytes: number;
  elapsedMs: number;
  records: number;
  /** MB/s of each round, for the notes: this machine drifts by 2x and more between rounds. */
  roundsMBps: number[];
}

function addRound(side: Side, bytes: number, elapsedMs: number, records = 0): void {
  side.bytes += bytes;
  side.elapsedMs += elapsedMs;
  side.records += records;
  side.roundsMBps.push(bytes / MB / (elapsedMs / 1000));
}

function roundsNote(side: Side): string {
  return side.roundsMBps.length > 1 ? `; rounds ${side.roundsMBps.map((value) => value.toFixed(0)).join(', ')} MB/s` : '';
}

async function runComparison(context: SuiteContext): Promise<Figure[]> {
  const volumeBytes = context.quick ? VOLUME_BYTES.quick : VOLUME_BYTES.full;
  const rounds = context.quick ? ROUNDS.quick : ROUNDS.full;
  const reference: Side = { bytes: 0, elapsedMs: 0, records: 0, roundsMBps: [] };
  const ferry: Side = { bytes: 0, elapsedMs: 0, records: 0, roundsMBps: [] };
  const ferryUsage: BrokerUsage[] = [];
  let batchBytes = 0;
  const receiver = await TcpToFile.start();
  try {
    for (let round = 0; round < rounds; round++) {
      const suffix = rounds > 1 ? ` (round ${round + 1} of ${rounds})` : '';
      context.progress(`  ${FIGURES.tcpToFile}: ${volumeBytes / MiB} MiB${suffix}`);
      const dir = context.tempDir('tcp-to-file');
      primePageCache(dir, volumeBytes);
      const received = receiver.receive(path.join(dir, 'received.dat'), volumeBytes);
      received.catch(() => undefined); // awaited below; a failure surfaces there, after the sender's
      const sent = await runLoad<'tcp-send'>({ mode: 'tcp-send', port: receiver.port, bytes: volumeBytes, writeBytes: WRITE_BYTES });
      await received;
      addRound(reference, sent.bytes, sent.elapsedMs);

      context.progress(`  ${FIGURES.produce}: ${volumeBytes / MiB} MiB${suffix}`);
      const served = await serveKafka(context);
      try {
        await served.broker.createTopic('bench', { partitions: 1 });
        const warmupRequests = context.quick ? PRODUCE_WARMUP_REQUESTS.quick : PRODUCE_WARMUP_REQUESTS.full;
        primePageCache(context.tempDir('prime'), volumeBytes + warmupRequests * MiB);
        const { result: produced, usage } = await probeBroker(() => runLoad<'kafka-produce'>({ mode: 'kafka-produce', port: served.port, topic: 'bench', batchBytesMax: MiB, warmupRequests, requests: Math.floor(volumeBytes / MiB), inflight: PRODUCE_INFLIGHT }));
        ferryUsage.push(usage);
        const stored = served.broker.log('bench', 0).logEndOffset;
        const expected = (produced.records / produced.requests) * (produced.requests + warmupRequests);
        if (stored !== expected) throw new Error(`the raw producer's batches left ${stored} records in the log, expected ${expected}`);
        addRound(ferry, produced.requests * produced.batchBytes, produced.elapsedMs, produced.records);
        batchBytes = produced.batchBytes;
        truncateSegments(served.broker.log('bench', 0).dir);
      } finally {
        await served.stop();
      }
    }
  } finally {
    await receiver.close();
  }
  const referenceMBps = reference.bytes / MB / (reference.elapsedMs / 1000);
  const ferryMBps = ferry.bytes / MB / (ferry.elapsedMs / 1000);
  const setup = `${rounds} x ${volumeBytes / MiB} MiB into a fresh file, page cache primed, alternating with the other`;
  return [
    { name: FIGURES.tcpToFile, value: referenceMBps, unit: 'MB/s', better: 'higher', note: `child writes 1 MiB buffers to a loopback socket; this process appends what it reads with one fs.writevSync per 1 MiB, acks the last; ${setup}${roundsNote(reference)}` },
    { name: FIGURES.produce, value: ferryMBps, unit: 'MB/s', better: 'higher', note: `raw Produce v9 client (child, Ferry's codec), one pre-built ${(batchBytes / 1024).toFixed(0)} KiB batch of 1 KiB records per request, ${PRODUCE_INFLIGHT} in flight, acks=1, 1 partition; batch bytes; ${setup}${roundsNote(ferry)}` },
    { name: FIGURES.produceRate, value: ferry.records / (ferry.elapsedMs / 1000), unit: 'records/s', better: 'higher', note: 'same run' },
    { name: FIGURES.ratio, value: ferryMBps / referenceMBps, unit: 'x of reference', better: 'higher', target: RATIO_TARGET, note: `${FIGURES.produce} / ${FIGURES.tcpToFile} (the issue: within 2 times)` },
    ...brokerUsageFigures(FIGURES.produce, combineUsage(ferryUsage)),
  ];
}

export const REFERENCE_SUITES: readonly Suite[] = [
  {
    name: 'physical-reference',
    figureNames: [...Object.values(FIGURES), ...brokerUsageNames(FIGURES.produce)],
    async run(context) {
      const figures: Figure[] = [];
      if (context.wants(FIGURES.pageCache)) figures.push(await pageCacheFigure(context));
      if ([FIGURES.tcpToFile, FIGURES.produce, FIGURES.produceRate, FIGURES.ratio, ...brokerUsageNames(FIGURES.produce)].some((name) => context.wants(name))) figures.push(...(await runComparison(context)));
      return figures.filter((figure) => context.wants(figure.name));
    },
  },
];
