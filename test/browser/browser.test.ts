/**
 * The client library in a real browser: Debian's headless chromium, driven by
 * playwright-core, loads the broker's demo page (GET /), which imports the
 * browser bundle the broker serves (GET /ferry-client.js), against a broker
 * started the way `ferry start` starts one (startServer) on 127.0.0.1 port 0.
 *
 * Records cross between the page and Node both ways, through the demo page's
 * own form and through the client's async iterator in both encodings; the
 * page joins a consumer group and commits; and the page must log no console
 * error. chromium comes from
 * scripts/install-test-deps.sh (CI runs it); without it this test fails, it
 * does not skip. Every wait is bounded; nothing asserts on timing.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { startServer, type RunningServer } from '../../src/protocol/server.js';
import { closeSharedStoragePool } from '../../src/storage/storage-pool.js';
import { tempDir } from '../storage/helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT_MS = 10_000;
const root = fileURLToPath(new URL('../..', import.meta.url));

let broker: Broker;
let server: RunningServer;
let browser: Browser;
let origin: string;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: the browser test needs Debian's chromium; install it with \`bash scripts/install-test-deps.sh\` (as root)`);
  }
  // Bundle the client as it is now (esbuild takes well under a second); the server reads it at start.
  execFileSync(process.execPath, ['scripts/build-client.mjs'], { cwd: root, stdio: 'pipe' });
  // No initial rebalance delay: a group's first join answers at once.
  broker = await Broker.open({ dataDir: tempDir('ferry-browser-'), autoCreateTopics: true, groups: { initialRebalanceDelayMs: 0 } });
  server = await startServer({ broker, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  origin = `http://127.0.0.1:${server.port}`;
  // chromium.launch gives every launch a fresh, temporary user-data dir of its own.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: WAIT_MS });
});

afterAll(async () => {
  await browser?.close();
  server?.close();
  await broker?.close();
  await closeSharedStoragePool();
});

let context: BrowserContext;
let page: Page;
let pageErrors: string[];

beforeEach(async () => {
  context = await browser.newContext();
  context.setDefaultTimeout(WAIT_MS);
  page = await context.newPage();
  pageErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => pageErrors.push(`uncaught: ${error.message}`));
  page.on('requestfailed', (request) => pageErrors.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
});

afterEach(async () => {
  await context.close();
  expect(pageErrors).toEqual([]);
});

/** The demo page loaded, its client connected and watching its topic. */
async function openDemo(): Promise<void> {
  const response = await page.goto(`${origin}/`);
  expect(response?.status()).toBe(200);
  // The page runs in the browser; the project compiles without the DOM library, hence the casts.
  await page.waitForFunction(() => {
    const { document } = globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } };
    return /watching|does not exist yet/.test(document.getElementById('status')?.textContent ?? '');
  });
}

async function stored(topic: string): Promise<Array<{ offset: number; key: string | null; value: string | null }>> {
  const fetched = await broker.fetchRecords(topic, 0, 0, { maxBytes: 1 << 20 });
  return fetched.records.map((record) => ({ offset: Number(record.offset), key: record.key?.toString() ?? null, value: record.value?.toString() ?? null }));
}

describe('the browser bundle and the demo page', () => {
  it('serves the bundle, its source map and the page', async () => {
    const bundle = await fetch(`${origin}/ferry-client.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(bundle.headers.get('access-control-allow-origin')).toBe('*'); // loadable as a module from any origin
    const code = await bundle.text();
    expect(code).toContain('sourceMappingURL=ferry-client.js.map');
    const map = await fetch(`${origin}/ferry-client.js.map`);
    expect(map.status).toBe(200);
    expect(((await map.json()) as { sources: string[] }).sources.some((source) => source.endsWith('src/client/ferry-client.ts'))).toBe(true);
    const html = await fetch(`${origin}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toContain(`from '/ferry-client.js'`);
  });

  it('produces from the demo form and shows records from the page and from Node as they arrive', async () => {
    await openDemo();
    await page.fill('#key', 'page-key');
    await page.fill('#value', 'hello from the page');
    await page.click('#produce');
    await page.locator('#records tr', { hasText: 'hello from the page' }).waitFor();

    // The page's record reached the broker...
    expect(await stored('demo')).toEqual([{ offset: 0, key: 'page-key', value: 'hello from the page' }]);
    // ...and one produced from Node reaches the page.
    await broker.produce('demo', [{ key: null, value: Buffer.from('hello from node') }]);
    await page.locator('#records tr', { hasText: 'hello from node' }).waitFor();
    const rows = await page.locator('#records tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    expect(rows.map((cells) => [cells[0], cells[1], cells[3], cells[4]])).toEqual([
      ['0', '0', 'page-key', 'hello from the page'],
      ['0', '1', '', 'hello from node'],
    ]);
  });
});

describe.each(['json', 'binary'] as const)('FerryClient in the browser (%s)', (encoding) => {
  it("consumes with the async iterator what the page and Node produce, and Node reads the page's records", async () => {
    const topic = `browser-${encoding}`;
    await openDemo();

    // In the page: its own client, produce a batch (auto-creating the topic), then iterate from the earliest.
    const produced = await page.evaluate(
      async ({ topic, encoding }) => {
        const scope = globalThis as unknown as { ferryDemo: { Ferry: typeof import('../../src/client/index.js') }; received: unknown[]; iteration: Promise<string>; client: { close(): Promise<void> } };
        const { host } = (globalThis as unknown as { location: { host: string } }).location;
        const { FerryClient } = scope.ferryDemo.Ferry;
        const client = await FerryClient.connect(`ws://${host}/ws`, { encoding });
        scope.client = client;
        const results = await client.produce(topic, [
          { key: 'k0', value: 'from the page 0', headers: { source: 'page' } },
          { key: 'k1', value: 'from the page 1' },
          { value: new Uint8Array([0, 255, 1]) },
        ]);
        scope.received = [];
        const subscription = client.subscribe(topic, { from: 'earliest' });
        scope.iteration = (async () => {
          for await (const record of subscription) {
            scope.received.push({
              partition: record.partition,
              offset: record.offset,
              key: record.keyText,
              value: record.offset === 2 ? Array.from(record.value ?? []) : record.valueText,
              headers: record.headers.map((header) => [header.key, record.headerText(header.key)]),
            });
          }
          return 'ended';
        })();
        await subscription.ready;
        return results.map((result) => [result.partition, result.offset]);
      },
      { topic, encoding },
    );
    expect(produced).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
    ]);

    // From Node, while the page's iterator waits.
    await broker.produce(topic, [{ key: Buffer.from('node'), value: Buffer.from('from node') }]);
    await page.waitForFunction(() => (globalThis as unknown as { received: unknown[] }).received.length >= 4);
    const received = await page.evaluate(() => (globalThis as unknown as { received: unknown[] }).received);
    expect(received).toEqual([
      { partition: 0, offset: 0, key: 'k0', value: 'from the page 0', headers: [['source', 'page']] },
      { partition: 0, offset: 1, key: 'k1', value: 'from the page 1', headers: [] },
      { partition: 0, offset: 2, key: null, value: [0, 255, 1], headers: [] },
      { partition: 0, offset: 3, key: 'node', value: 'from node', headers: [] },
    ]);

    // Node reads what the page produced.
    expect((await stored(topic)).slice(0, 2)).toEqual([
      { offset: 0, key: 'k0', value: 'from the page 0' },
      { offset: 1, key: 'k1', value: 'from the page 1' },
    ]);

    // Closing the client ends the iteration cleanly.
    const ended = await page.evaluate(async () => {
      const scope = globalThis as unknown as { client: { close(): Promise<void> }; iteration: Promise<string> };
      await scope.client.close();
      return scope.iteration;
    });
    expect(ended).toBe('ended');
  });
});

describe('binary produce from the browser', () => {
  it('builds batches in the page (CRC32C in JS) that the broker stores as sent and Node reads back byte for byte', async () => {
    const topic = 'browser-binary-produce';
    await broker.createTopic(topic, { partitions: 2 });
    await openDemo();
    const sent = await page.evaluate(
      async ({ topic }) => {
        const scope = globalThis as unknown as {
          ferryDemo: { Ferry: typeof import('../../src/client/index.js') };
          WebSocket: { prototype: { send(data: unknown): void } };
          crypto: { getRandomValues(bytes: Uint8Array): Uint8Array };
        };
        // Count what the page's WebSocket really sends: binary produce frames, not JSON text.
        const frames = { text: 0, binary: 0 };
        const send = scope.WebSocket.prototype.send;
        scope.WebSocket.prototype.send = function (this: unknown, data: unknown) {
          if (typeof data === 'string') frames.text++;
          else frames.binary++;
          send.call(this, data);
        };
        const { host } = (globalThis as unknown as { location: { host: string } }).location;
        const client = await scope.ferryDemo.Ferry.FerryClient.connect(`ws://${host}/ws`, { encoding: 'binary' });
        const values = Array.from({ length: 200 }, () => {
          const value = new Uint8Array(1024);
          // getRandomValues fills at most 64 KiB at once; 1 KiB is well under.
          return Array.from(scope.crypto.getRandomValues(value));
        });
        const results = await client.produce(
          topic,
          values.map((value, i) => ({ value: Uint8Array.from(value), partition: 1, headers: { index: String(i) } })),
          { acks: 1 },
        );
        const single = await client.produce(topic, { value: 'one from the page', partition: 0, timestamp: 1_234 });
        await client.close();
        return { values, offsets: results.map((result) => result.offset), single, frames };
      },
      { topic },
    );
    expect(sent.frames.binary).toBe(2);
    expect(sent.offsets).toEqual(sent.values.map((_, i) => i));
    expect(sent.single).toEqual({ partition: 0, offset: 0, timestamp: 1_234 });
    const fetched = await broker.fetchRecords(topic, 1, 0, { maxBytes: 1 << 20 });
    expect(fetched.records.map((record) => Array.from(record.value ?? []))).toEqual(sent.values);
    expect(fetched.records.map((record) => record.headers[0]?.value?.toString())).toEqual(sent.values.map((_, i) => String(i)));
    expect((await broker.fetchRecords(topic, 0, 0, { maxBytes: 1 << 20 })).records.map((record) => [Number(record.timestamp), record.value?.toString()])).toEqual([[1_234, 'one from the page']]);
  });
});

describe('a consumer group in the browser', () => {
  it('joins a group, is assigned every partition, reads from the earliest, commits, and Node sees the commit', async () => {
    const topic = 'browser-group';
    await broker.createTopic(topic, { partitions: 2 });
    await broker.produce(topic, [
      { value: Buffer.from('p0'), partition: 0 },
      { value: Buffer.from('p1'), partition: 1 },
    ]);
    await openDemo();
    const seen = await page.evaluate(
      async ({ topic }) => {
        const scope = globalThis as unknown as { ferryDemo: { Ferry: typeof import('../../src/client/index.js') } };
        const { host } = (globalThis as unknown as { location: { host: string } }).location;
        const client = await scope.ferryDemo.Ferry.FerryClient.connect(`ws://${host}/ws`);
        const membership = client.join('browser-group', topic, { from: 'earliest' });
        const assignment = await membership.ready;
        const values: string[] = [];
        while (values.length < 2) {
          const next = await membership.next();
          if (next.done) break;
          values.push(`${next.value.partition}:${next.value.valueText}`);
        }
        await membership.commit(); // the position after each record read
        const offsets = await client.committedOffsets('browser-group', [topic]);
        const memberId = membership.memberId;
        await membership.leave();
        await client.close();
        return { assignment, values: values.sort(), offsets, memberId };
      },
      { topic },
    );
    expect(seen.assignment).toEqual([{ topic, partitions: [0, 1] }]);
    expect(seen.values).toEqual(['0:p0', '1:p1']);
    expect(seen.memberId).toMatch(/^ferry-ws-/);
    expect(seen.offsets).toEqual([
      { topic, partition: 0, offset: 1, metadata: '' },
      { topic, partition: 1, offset: 1, metadata: '' },
    ]);
    expect(broker.groups.fetchOffsets('browser-group', null).map((o) => [o.partition, o.offset])).toEqual([
      [0, 1n],
      [1, 1n],
    ]);
    expect(broker.groups.describeGroup('browser-group').members).toEqual([]);
  });
});
