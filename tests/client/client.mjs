// A mainstream GraphQL client against the live service: urql (queries, automatic persisted
// queries), plain fetch (a conditional GET) and graphql-ws over `ws` (subscriptions).
//
//   node client.mjs URL WS_URL IMAGE_NAME VERSION
//
// URL is the service's /graphql over HTTP, WS_URL the same over WebSocket; IMAGE_NAME and
// VERSION name an image version that is CREATING now and becomes CREATED shortly. Every check
// that fails stops the script with a message on stderr and exit code 1; when all pass it prints
// one JSON line with what each check saw.
//
// The subscriptions run first, while the version is still CREATING. With
// CLIENT_PAUSE_AFTER_SUBSCRIPTIONS=1 the script then writes "subscriptions complete" on stderr
// and waits for a line on stdin before the other checks, so that a driver can read the
// SageMaker calls the subscriptions made and nothing else.

import { createHash, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";

import { Client, fetchExchange, gql } from "@urql/core";
import { persistedExchange } from "@urql/exchange-persisted";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";

const TIMEOUT_MS = 30_000;
const SUBSCRIBERS = 2;

class CheckFailed extends Error {}

function check(condition, message, detail) {
  if (!condition) {
    const suffix = detail === undefined ? "" : `: ${JSON.stringify(detail)}`;
    throw new CheckFailed(message + suffix);
  }
}

const [url, wsUrl, imageName, versionArg] = process.argv.slice(2);
if (!url || !wsUrl || !imageName || !versionArg) {
  console.error("usage: node client.mjs URL WS_URL IMAGE_NAME VERSION");
  process.exit(2);
}
const version = Number(versionArg);

// ---- a. a query with urql's client -------------------------------------------------------

const VERSION_QUERY = gql`
  query KernelVersion($name: String!) {
    imageVersion(imageName: $name) {
      version
      jobType
    }
  }
`;

async function checkQuery() {
  const requests = [];
  const client = new Client({
    url,
    exchanges: [fetchExchange],
    fetch: recordingFetch(requests),
    // POST here: the persisted queries and the conditional GET below cover GET.
    preferGetMethod: false,
    requestPolicy: "network-only",
  });
  const result = await client.query(VERSION_QUERY, { name: "sklearn-kernel" }).toPromise();
  check(!result.error, "the query failed", result.error?.message);
  const found = result.data?.imageVersion;
  check(Number.isInteger(found?.version), "imageVersion.version is not an integer", result.data);
  check(typeof found.jobType === "string", "imageVersion.jobType is not an enum value", found);
  check(requests.length === 1, "urql sent more than one request", requests);
  return { method: requests[0].method, status: requests[0].status, data: result.data };
}

// ---- b. automatic persisted queries with urql's persistedExchange ------------------------

// A fresh alias per run, so that the first use is a miss even against a service that has run
// this script before (the service keeps hashes for a day).
const NONCE = randomBytes(6).toString("hex");
const PERSISTED_QUERY = gql(`
  query PersistedKernelVersion($name: String!) {
    v${NONCE}: imageVersion(imageName: $name) {
      version
      jobType
    }
  }
`);

// fetch, recording each request and the JSON it was answered with.
function recordingFetch(requests) {
  return async (input, init = {}) => {
    const response = await fetch(input, init);
    const target = new URL(String(input));
    const sent =
      typeof init.body === "string"
        ? JSON.parse(init.body)
        : {
            query: target.searchParams.get("query") ?? undefined,
            extensions: JSON.parse(target.searchParams.get("extensions") ?? "null") ?? undefined,
          };
    let answer = null;
    try {
      answer = await response.clone().json();
    } catch {
      // Not JSON: the check that reads it says so.
    }
    requests.push({ method: init.method ?? "GET", status: response.status, sent, answer });
    return response;
  };
}

function persistedClient(requests) {
  return new Client({
    url,
    exchanges: [persistedExchange({ preferGetForPersistedQueries: true }), fetchExchange],
    fetch: recordingFetch(requests),
    requestPolicy: "network-only",
  });
}

async function checkPersisted() {
  // First use: the hash alone is unknown; urql sends it again with the query's text.
  const first = [];
  const firstResult = await persistedClient(first)
    .query(PERSISTED_QUERY, { name: "sklearn-kernel" })
    .toPromise();
  check(!firstResult.error, "the persisted query failed on first use", firstResult.error?.message);
  check(first.length === 2, "first use: expected a miss then the full query", first);
  const [miss, full] = first;
  const hash = miss.sent.extensions?.persistedQuery?.sha256Hash;
  check(/^[0-9a-f]{64}$/.test(hash ?? ""), "first use: no SHA-256 in the request", miss.sent);
  check(miss.sent.query === undefined, "first use: the first request carried the query", miss);
  check(miss.method === "GET", "first use: the hashed request was not a GET", miss);
  const missCodes = (miss.answer?.errors ?? []).map((error) => error.extensions?.code);
  check(
    missCodes.includes("PERSISTED_QUERY_NOT_FOUND"),
    "first use: the service did not answer PERSISTED_QUERY_NOT_FOUND",
    { status: miss.status, answer: miss.answer },
  );
  check(typeof full.sent.query === "string", "first use: the retry had no query text", full);
  check(
    full.sent.extensions?.persistedQuery?.sha256Hash === hash,
    "first use: the retry had another hash",
    full.sent,
  );
  check(
    createHash("sha256").update(full.sent.query).digest("hex") === hash,
    "first use: the hash is not the SHA-256 of the query's text",
    full.sent,
  );
  check(full.status === 200, "first use: the full query was not answered 200", full);

  // Second use, by a new client: the hash alone is enough.
  const second = [];
  const secondResult = await persistedClient(second)
    .query(PERSISTED_QUERY, { name: "sklearn-kernel" })
    .toPromise();
  check(!secondResult.error, "the persisted query failed on second use", secondResult.error);
  check(second.length === 1, "second use: expected one request (a hit)", second);
  const [hit] = second;
  check(hit.sent.query === undefined, "second use: the query's text was sent", hit.sent);
  check(hit.sent.extensions?.persistedQuery?.sha256Hash === hash, "second use: other hash", hit);
  check(hit.method === "GET" && hit.status === 200, "second use: not a 200 GET", hit);
  check(
    JSON.stringify(secondResult.data) === JSON.stringify(firstResult.data),
    "second use: other data than the first",
    { first: firstResult.data, second: secondResult.data },
  );
  return {
    hash,
    firstUse: first.map(({ method, status, sent, answer }) => ({
      method,
      status,
      sentQuery: sent.query !== undefined,
      code: answer?.errors?.[0]?.extensions?.code ?? null,
    })),
    secondUse: { method: hit.method, status: hit.status, sentQuery: false },
    data: secondResult.data,
  };
}

// ---- c. a conditional GET answered 304 ---------------------------------------------------

async function checkConditionalGet() {
  const target = new URL(url);
  target.searchParams.set(
    "query",
    "query KernelVersion($name: String!) { imageVersion(imageName: $name) { version jobType } }",
  );
  target.searchParams.set("variables", JSON.stringify({ name: "sklearn-kernel" }));
  const accept = { Accept: "application/graphql-response+json" };
  const first = await fetch(target, { headers: accept });
  const firstBody = await first.json();
  check(first.status === 200, "GET: not 200", { status: first.status, body: firstBody });
  check(!firstBody.errors, "GET: the answer has errors", firstBody);
  const etag = first.headers.get("etag");
  const cacheControl = first.headers.get("cache-control");
  check(etag, "GET: no ETag");
  check(cacheControl, "GET: no Cache-Control");

  const second = await fetch(target, { headers: { ...accept, "If-None-Match": etag } });
  const secondBody = await second.text();
  check(second.status === 304, "GET with If-None-Match: not 304", {
    status: second.status,
    body: secondBody,
  });
  check(secondBody === "", "304 with a body", secondBody);
  const notModifiedCacheControl = second.headers.get("cache-control");
  check(notModifiedCacheControl, "304 without Cache-Control");
  check(second.headers.get("etag") === etag, "304 with another ETag", second.headers.get("etag"));
  return { etag, cacheControl, status: second.status, cacheControlOn304: notModifiedCacheControl };
}

// ---- d. subscriptions over graphql-transport-ws ------------------------------------------

const SUBSCRIPTION = `subscription($name: String!, $v: Int) {
  imageVersionStatus(imageName: $name, version: $v) { version imageVersionStatus }
}`;

function describeError(error) {
  if (Array.isArray(error)) {
    return JSON.stringify(error);
  }
  if (error && typeof error.code === "number") {
    return `the socket closed: ${error.code} ${error.reason ?? ""}`.trim();
  }
  return error instanceof Error ? error.message : JSON.stringify(error);
}

// One graphql-ws client (its own WebSocket) following the version until the service completes
// the subscription: the states it saw, in order.
function follow(label) {
  const client = createWsClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  const states = [];
  return new Promise((resolve, reject) => {
    client.subscribe(
      { query: SUBSCRIPTION, variables: { name: imageName, v: version } },
      {
        next(value) {
          if (value.errors) {
            reject(new CheckFailed(`${label}: errors ${JSON.stringify(value.errors)}`));
            return;
          }
          states.push(value.data.imageVersionStatus);
        },
        error(error) {
          reject(new CheckFailed(`${label}: ${describeError(error)}`));
        },
        complete() {
          resolve(states);
        },
      },
    );
  }).finally(() => client.dispose());
}

async function checkSubscriptions() {
  const labels = Array.from({ length: SUBSCRIBERS }, (_, index) => `subscriber ${index + 1}`);
  const seen = await Promise.all(labels.map(follow));
  seen.forEach((states, index) => {
    const label = labels[index];
    const statuses = states.map((state) => state.imageVersionStatus);
    check(
      states.every((state) => state.version === version),
      `${label}: a state of another version`,
      states,
    );
    check(statuses[0] === "CREATING", `${label}: the first state is not CREATING`, statuses);
    check(statuses.at(-1) === "CREATED", `${label}: the last state is not CREATED`, statuses);
    check(
      statuses.every((status) => status === "CREATING" || status === "CREATED"),
      `${label}: a status other than CREATING and CREATED`,
      statuses,
    );
  });
  return {
    subscribers: seen.map((states) => states.map((state) => state.imageVersionStatus)),
    completed: true,
  };
}

async function waitForDriver() {
  console.error("subscriptions complete");
  const lines = createInterface({ input: process.stdin });
  for await (const _ of lines) {
    break;
  }
  lines.close();
}

async function main() {
  const subscription = await checkSubscriptions();
  if (process.env.CLIENT_PAUSE_AFTER_SUBSCRIPTIONS === "1") {
    await waitForDriver();
  }
  const query = await checkQuery();
  const persisted = await checkPersisted();
  const conditionalGet = await checkConditionalGet();
  console.log(JSON.stringify({ ok: true, query, persisted, conditionalGet, subscription }));
}

const timer = setTimeout(() => {
  console.error(`client.mjs: no result within ${TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, TIMEOUT_MS);

try {
  await main();
  clearTimeout(timer);
} catch (error) {
  const what =
    error instanceof CheckFailed ? `check failed: ${error.message}` : `error: ${error?.stack}`;
  console.error(`client.mjs: ${what}`);
  process.exit(1);
}
