#!/usr/bin/env node
/**
 * Generates src/protocol/kafka/generated/messages.ts from Apache Kafka's
 * message definitions in ../shared/kafka-protocol/message/*.json.
 *
 * Development-time only: the output is committed, so the project builds and
 * runs without ../shared. Output is deterministic (APIs sorted by key, fields
 * in definition order), so regenerating unchanged input changes nothing.
 *
 * Usage: node scripts/gen-kafka-messages.mjs [messageDir] [outFile]
 */
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const messageDir = resolve(process.argv[2] ?? join(root, '../shared/kafka-protocol/message'));
const outFile = resolve(process.argv[3] ?? join(root, 'src/protocol/kafka/generated/messages.ts'));
const readmeFile = join(messageDir, '..', 'README.md');

const VERSION_MAX = 0x7fff;
const PRIMITIVES = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'int64', 'float64', 'uuid', 'string', 'bytes', 'records']);
const NUMERIC = new Set(['int8', 'int16', 'uint16', 'int32', 'float64']);

/** Drops `//` comments outside string literals (the definitions are JSON with comments). */
function stripComments(text) {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

function parseRange(text, what) {
  if (text === undefined || text === 'none') return null;
  const s = String(text).trim();
  let m;
  if ((m = /^(\d+)\+$/.exec(s))) return { min: Number(m[1]), max: VERSION_MAX };
  if ((m = /^(\d+)-(\d+)$/.exec(s))) return { min: Number(m[1]), max: Number(m[2]) };
  if ((m = /^(\d+)$/.exec(s))) return { min: Number(m[1]), max: Number(m[1]) };
  throw new Error(`${what}: bad version range ${JSON.stringify(text)}`);
}

function normalizeDefault(value, elementType, isArray, what) {
  if (value === 'null') return null;
  if (isArray || elementType === 'struct' || elementType === 'bytes' || elementType === 'records') {
    throw new Error(`${what}: unsupported default ${JSON.stringify(value)}`);
  }
  if (elementType === 'bool') return value === true || value === 'true';
  if (elementType === 'int64') return BigInt(value);
  if (NUMERIC.has(elementType)) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`${what}: bad numeric default ${value}`);
    return n;
  }
  return String(value);
}

function convertFields(fields, structs, what) {
  return fields.map((f) => convertField(f, structs, `${what}.${f.name}`));
}

function convertField(f, structs, what) {
  const isArray = f.type.startsWith('[]');
  const base = isArray ? f.type.slice(2) : f.type;
  const elementType = PRIMITIVES.has(base) ? base : 'struct';
  const versions = parseRange(f.versions, what);
  if (!versions) throw new Error(`${what}: no versions`);
  const out = {
    name: f.name,
    key: f.name[0].toLowerCase() + f.name.slice(1),
    type: f.type,
    isArray,
    elementType,
    versions,
    nullableVersions: parseRange(f.nullableVersions, what),
    taggedVersions: parseRange(f.taggedVersions, what),
    tag: f.tag === undefined ? null : Number(f.tag),
  };
  if (f.flexibleVersions !== undefined) out.flexibleVersions = parseRange(f.flexibleVersions, what);
  if (f.default !== undefined) out.default = normalizeDefault(f.default, elementType, isArray, what);
  if (elementType === 'struct') {
    const inline = f.fields;
    const common = structs.get(base);
    if (inline && inline.length > 0) out.fields = convertFields(inline, structs, what);
    else if (common) out.fields = convertFields(common.fields, structs, what);
    else throw new Error(`${what}: unknown struct type ${base}`);
  }
  return out;
}

function convertMessage(json, file) {
  const structs = new Map((json.commonStructs ?? []).map((s) => [s.name, s]));
  const validVersions = parseRange(json.validVersions, file);
  return {
    name: json.name,
    kind: json.type,
    apiKey: json.apiKey ?? -1,
    validVersions,
    flexibleVersions: parseRange(json.flexibleVersions, file),
    fields: convertFields(json.fields ?? [], structs, json.name),
    commonStructs: (json.commonStructs ?? []).map((s) => ({
      name: s.name,
      versions: parseRange(s.versions, `${json.name}.${s.name}`),
      fields: convertFields(s.fields, structs, `${json.name}.${s.name}`),
    })),
  };
}

/** TypeScript literal with bigint support, two-space indent, unquoted identifier keys. */
function literal(value, indent = '') {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value !== 'object') return JSON.stringify(value);
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + literal(v, inner)).join(',\n')},\n${indent}]`;
  }
  const entries = Object.entries(value);
  // Objects without arrays inside (version ranges, leaf fields) stay on one line.
  if (entries.every(([, v]) => !Array.isArray(v))) {
    return `{ ${entries.map(([k, v]) => `${k}: ${literal(v)}`).join(', ')} }`;
  }
  return `{\n${entries.map(([k, v]) => `${inner}${k}: ${literal(v, inner)}`).join(',\n')},\n${indent}}`;
}

function main() {
  const commit = /commit ([0-9a-f]{40})/.exec(readFileSync(readmeFile, 'utf8'))?.[1];
  if (!commit) throw new Error(`no commit named in ${readmeFile}`);
  const files = readdirSync(messageDir).filter((n) => n.endsWith('.json')).sort();
  const requests = new Map();
  const responses = new Map();
  const headers = new Map();
  for (const file of files) {
    const json = JSON.parse(stripComments(readFileSync(join(messageDir, file), 'utf8')));
    if (json.type === 'request') requests.set(json.apiKey, convertMessage(json, file));
    else if (json.type === 'response') responses.set(json.apiKey, convertMessage(json, file));
    else if (json.type === 'header') headers.set(json.name, convertMessage(json, file));
  }
  const apis = [...requests.keys()].sort((a, b) => a - b).map((apiKey) => {
    const request = requests.get(apiKey);
    const response = responses.get(apiKey);
    if (!response) throw new Error(`API key ${apiKey}: request without response`);
    return { apiKey, name: request.name.replace(/Request$/, ''), request, response };
  });
  const requestHeader = headers.get('RequestHeader');
  const responseHeader = headers.get('ResponseHeader');
  if (!requestHeader || !responseHeader) throw new Error('header definitions missing');

  const out = `/**
 * GENERATED by scripts/gen-kafka-messages.mjs: do not edit by hand.
 *
 * Generated from Apache Kafka's message definitions
 * (clients/src/main/resources/common/message/) at commit
 * ${commit}, licensed under the Apache License 2.0.
 * Regenerate with: node scripts/gen-kafka-messages.mjs
 */

import type { ApiSpec, MessageSpec } from '../message-spec.js';

export const SOURCE_COMMIT = ${JSON.stringify(commit)};

export const REQUEST_HEADER: MessageSpec = ${literal(requestHeader)};

export const RESPONSE_HEADER: MessageSpec = ${literal(responseHeader)};

/** Every request/response pair, sorted by API key. */
export const API_SPECS: readonly ApiSpec[] = ${literal(apis)};
`;
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, out);
  console.log(`wrote ${outFile}: ${apis.length} APIs from ${files.length} files`);
}

main();
