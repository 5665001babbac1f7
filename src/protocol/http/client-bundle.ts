/**
 * The browser client, served by the broker itself:
 *
 *   GET /ferry-client.js       the client library bundled for browsers (one ES
 *                              module; `npm run build:client` writes it to
 *                              dist/browser/ by scripts/build-client.mjs)
 *   GET /ferry-client.js.map   its source map
 *   GET /                      a small demo page: produce to a topic, watch its
 *                              records arrive (http://localhost:8080/)
 *
 * The bundle is read once, when the routes are registered; a rebuilt bundle is
 * served after a restart. When it is missing the two bundle routes answer 404
 * saying how to build it, and the demo page says the same.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { DoorContext } from '../door.js';

/** src/protocol/http/ and dist/protocol/http/ are both three levels below the package root. */
export const CLIENT_BUNDLE_DIR = fileURLToPath(new URL('../../../dist/browser/', import.meta.url));
export const CLIENT_BUNDLE_FILE = 'ferry-client.js';

const BUILD_HINT = `the browser client bundle is not built: run \`npm run build:client\` (node scripts/build-client.mjs), then restart the broker`;

interface Asset {
  contentType: string;
  body: Buffer;
}

export function registerClientBundle(app: TemplatedApp, context: Pick<DoorContext, 'logger'>, bundleDir: string = CLIENT_BUNDLE_DIR): void {
  const bundle = readAsset(bundleDir + CLIENT_BUNDLE_FILE, 'text/javascript; charset=utf-8');
  const sourceMap = readAsset(`${bundleDir}${CLIENT_BUNDLE_FILE}.map`, 'application/json; charset=utf-8');
  if (!bundle) context.logger.warn({ dir: bundleDir }, BUILD_HINT);

  app.get(`/${CLIENT_BUNDLE_FILE}`, (res) => serve(res, bundle));
  app.get(`/${CLIENT_BUNDLE_FILE}.map`, (res) => serve(res, sourceMap));
  app.get('/', (res) => {
    res.cork(() => {
      res.writeStatus('200 OK');
      res.writeHeader('content-type', 'text/html; charset=utf-8');
      res.writeHeader('cache-control', 'no-cache');
      res.end(bundle ? DEMO_PAGE : DEMO_PAGE.replace('<p id="status">connecting…</p>', `<p id="status">${BUILD_HINT.replaceAll('`', '')}</p>`));
    });
  });
}

function readAsset(path: string, contentType: string): Asset | null {
  try {
    return { contentType, body: readFileSync(path) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function serve(res: HttpResponse, asset: Asset | null): void {
  res.cork(() => {
    if (!asset) {
      res.writeStatus('404 Not Found');
      res.writeHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error_code: 404, message: BUILD_HINT }));
      return;
    }
    res.writeStatus('200 OK');
    res.writeHeader('content-type', asset.contentType);
    // Read once per process: revalidate so a restarted broker's rebuilt bundle is picked up.
    res.writeHeader('cache-control', 'no-cache');
    // A module script from another origin needs CORS: any page may load the client (the data goes over /ws anyway).
    res.writeHeader('access-control-allow-origin', '*');
    res.end(asset.body);
  });
}

/**
 * The demo page. Everything it shows comes through textContent (record keys
 * and values are arbitrary bytes from arbitrary producers). It exposes the
 * client module and its state as `window.ferryDemo` for the browser test.
 */
export const DEMO_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Ferry</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin: 1rem 0; }
  label { display: flex; flex-direction: column; font-size: .8rem; color: #555; }
  input { font: inherit; padding: .3rem .4rem; }
  table { border-collapse: collapse; width: 100%; font-family: ui-monospace, monospace; font-size: .85rem; }
  th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  #status { color: #666; }
  #status.error { color: #b00; }
</style>
</head>
<body>
<h1>Ferry</h1>
<p>This page loads the browser client from <a href="/ferry-client.js">/ferry-client.js</a>, connects to this broker's WebSocket door
at <code>/ws</code>, produces to a topic and shows the topic's records as they arrive, from the earliest, whoever produced them
(try <code>curl</code> or <code>ferry produce</code> alongside).</p>
<form id="topic-form">
  <label>topic <input id="topic" name="topic" value="demo" required></label>
  <button type="submit">watch</button>
</form>
<form id="produce-form">
  <label>key (optional) <input id="key" name="key"></label>
  <label>value <input id="value" name="value" required></label>
  <button id="produce" type="submit">produce</button>
</form>
<p id="status">connecting…</p>
<table>
  <thead><tr><th>partition</th><th>offset</th><th>timestamp</th><th>key</th><th>value</th></tr></thead>
  <tbody id="records"></tbody>
</table>
<script type="module">
import * as Ferry from '/ferry-client.js';

const $ = (id) => document.getElementById(id);
const state = { Ferry, client: null, topic: null, subscription: null, records: [] };
window.ferryDemo = state;

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text;
  row.append(td);
}

async function watch(topic) {
  void state.subscription?.return();
  state.subscription = null;
  state.topic = topic;
  state.records = [];
  $('records').replaceChildren();
  const subscription = state.client.subscribe(topic, { from: 'earliest' });
  state.subscription = subscription;
  try {
    await subscription.ready;
    status('watching ' + topic);
    for await (const record of subscription) {
      state.records.push({ partition: record.partition, offset: record.offset, key: record.keyText, value: record.valueText });
      const row = document.createElement('tr');
      cell(row, String(record.partition));
      cell(row, String(record.offset));
      cell(row, new Date(record.timestamp).toISOString());
      cell(row, record.keyText ?? '');
      cell(row, record.valueText ?? '');
      $('records').append(row);
    }
  } catch (error) {
    if (state.subscription !== subscription) return;
    state.subscription = null;
    if (error.errorName === 'UNKNOWN_TOPIC_OR_PARTITION') status('topic ' + topic + ' does not exist yet: produce a record to create it');
    else status('subscription failed: ' + error.message, true);
  }
}

$('topic-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void watch($('topic').value);
});

$('produce-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const topic = $('topic').value;
  const key = $('key').value;
  try {
    const result = await state.client.produce(topic, { key: key === '' ? null : key, value: $('value').value });
    status('produced to ' + topic + ' partition ' + result.partition + ' offset ' + result.offset);
    $('value').value = '';
    if (state.topic !== topic || !state.subscription) void watch(topic);
  } catch (error) {
    status('produce failed: ' + error.message, true);
  }
});

try {
  state.client = await Ferry.FerryClient.connect((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws', {
    onConnectionChange: (change) => {
      if (change.state === 'reconnecting') status('connection lost (' + change.reason + '), reconnecting…', true);
      else if (change.state === 'open' && state.topic) status('watching ' + state.topic);
    },
  });
  status('connected');
  void watch($('topic').value);
} catch (error) {
  status('cannot connect: ' + error.message, true);
}
</script>
</body>
</html>
`;
